#!/usr/bin/python3
"""man_pages: packaging/man/* stay true to the programs (issue 20, item 7).

- hoist.1, hoist-agent.8, hoistd.8: every command --help lists has a .SS
  heading under COMMANDS (the program's own options are under OPTIONS),
  every option its .TP entry under that heading, and the page has no
  heading, entry or --option that --help does not have.
- hoistd.toml.5: a .SS heading per table ([t], or [[t]] for a list of
  tables) and a .TP entry per key, exactly as hoistd's parser takes them.
- hoist-policy.5: the same for the policy's tables and fields.
- hoist_sudo.8: a .TP entry under OPTIONS per plugin option the plugin takes.
- every page: the sections a manual needs; groff and man give no warning;
  no "-" that should be a minus sign "\\-"; the EXAMPLES of hoist-policy.5
  and hoistd.toml.5 pass `hoist policy check` and `hoistd --check-config`.

check_man_pages.py HOIST HOIST_AGENT HOISTD MAN_DIR [--self-test]
--self-test edits copies of the pages (an option taken out, one added, a
key taken out) and requires each change to be reported."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hoist_probes  # noqa: E402

PAGES = ["hoist.1", "hoist-agent.8", "hoistd.8", "hoistd.toml.5", "hoist-policy.5", "hoist_sudo.8"]
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
# Paths a page's FILES section must name.
FILES = {
    "hoist.1": ["/run/hoist/agent.sock"],
    "hoist-agent.8": ["/var/lib/hoist-agent", "/run/hoist/agent.sock", "/etc/sudo.conf"],
    "hoistd.8": ["/var/lib/hoistd", "/etc/hoist/hoistd.toml"],
    "hoistd.toml.5": ["/etc/hoist/hoistd.toml", "/var/lib/hoistd"],
    "hoist-policy.5": ["/var/lib/hoist-agent"],
    "hoist_sudo.8": ["/etc/sudo.conf", "/run/hoist/agent.sock", "/var/lib/hoist-agent"],
}


def plain(roff):
    """Text without font escapes, with roff's special characters as typed."""
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", roff)
    s = s.replace("\\-", "-").replace("\\(dq", '"').replace("\\(aq", "'").replace("\\&", "")
    s = s.replace("\\e", "\\")
    return s


def macro_text(line):
    """The text of a macro line such as .SS "x y" or .BR a ", " b."""
    parts = re.findall(r'"([^"]*)"|(\S+)', line.split(None, 1)[1] if " " in line else "")
    return "".join(a if a else b for a, b in parts) if line.startswith((".B", ".I", ".R")) else \
        " ".join(a if a else b for a, b in parts)


class Page:
    """A roff man page as sections, .SS headings and .TP tags."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.sections = []   # .SH names, in order
        self.entries = []    # (section, heading or None, tag text)
        self.headings = []   # (section, heading text)
        section = heading = None
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if line.startswith(".SH "):
                section = plain(macro_text(line))
                heading = None
                self.sections.append(section)
            elif line.startswith(".SS "):
                heading = plain(macro_text(line))
                self.headings.append((section, heading))
            elif line.startswith(".TP") and i + 1 < len(self.lines):
                tag = self.lines[i + 1]
                tag = plain(macro_text(tag) if tag.startswith(".") else tag)
                self.entries.append((section, heading, tag))
            i += 1

    def text(self):
        return "\n".join(line for line in self.lines if not line.startswith('.\\"'))


def option_names(tag):
    return re.findall(r"(?:^|[\s,])(--?[A-Za-z0-9][A-Za-z0-9-]*)", tag)


def command_path(heading):
    words = []
    for w in heading.split():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", w):
            break
        words.append(w)
    return tuple(words)


def check_program(page, tree, all_long_options, problems):
    where = page.name
    documented = {}
    for section, heading in page.headings:
        if section != "COMMANDS":
            continue
        path = command_path(heading)
        if path not in tree or not path:
            problems.append(f"{where}: heading \"{heading}\" names no command of the program")
        elif path in documented:
            problems.append(f"{where}: command \"{' '.join(path)}\" has two headings")
        documented.setdefault(path, set())
    documented.setdefault((), set())
    for section, heading, tag in page.entries:
        names = option_names(tag)
        if not names or not tag.startswith("-"):
            continue
        if section == "OPTIONS":
            documented[()].update(names)
        elif section == "COMMANDS" and heading is not None:
            documented.setdefault(command_path(heading), set()).update(names)
    for section, heading in page.headings:
        path = command_path(heading)
        if section != "COMMANDS" or path not in tree:
            continue
        # The arguments: one placeholder (FILE, [ID]...) per positional, more
        # only for one that takes the rest (COMMAND [ARG...]).
        positionals = tree[path].positionals
        placeholders = re.findall(r"\b[A-Z][A-Z_]*\b", heading)
        rest = bool(positionals) and positionals[-1][1]
        if len(placeholders) < len(positionals) or (len(placeholders) > len(positionals) and not rest):
            names = [name for name, _ in positionals]
            problems.append(f"{where}: \"{heading}\" shows the arguments {placeholders}, --help has {names}")
    for path, cmd in tree.items():
        shown = " ".join(path) or "(the program)"
        expected = set(cmd.options) - (hoist_probes.HELP_OPTION if path else set())
        needs_heading = path and (not cmd.subcommands or expected or cmd.positionals)
        if needs_heading and path not in documented:
            problems.append(f"{where}: no .SS heading for the command \"{shown}\"")
            continue
        got = documented.get(path, set())
        for name in sorted(expected - got):
            problems.append(f"{where}: \"{shown}\" has option {name} (--help) but the page does not list it")
        for name in sorted(got - expected - (hoist_probes.HELP_OPTION if path else set())):
            problems.append(f"{where}: \"{shown}\" lists option {name}, which --help does not have")
    for name in sorted(set(re.findall(r"(--[a-z][a-z0-9-]*)", plain(page.text()))) - all_long_options):
        problems.append(f"{where}: mentions {name}, which no Hoist program has")


def check_tables(page, tables, problems):
    """tables: {name: (keys, is_array)}; the name "" is the top level."""
    got = {}
    current = None
    for section, heading, tag in page.entries:
        if heading is None:
            continue
        m = re.fullmatch(r"\[\[([a-z_]+)\]\]|\[([a-z_]+)\]|(.*)", heading)
        table = m.group(1) or m.group(2) or ""
        got.setdefault(table, set()).add(tag.split()[0])
        current = table
    del current
    headings = {}
    for section, heading in page.headings:
        m = re.fullmatch(r"\[\[([a-z_]+)\]\]|\[([a-z_]+)\]", heading)
        if m:
            headings[m.group(1) or m.group(2)] = bool(m.group(1))
    for table, (keys, array) in tables.items():
        label = f"[[{table}]]" if array else f"[{table}]" if table else "the top level"
        if table and table not in headings:
            problems.append(f"{page.name}: no .SS heading for {label}")
            continue
        if table and headings[table] != array:
            problems.append(f"{page.name}: {label} is written with the wrong brackets")
        for key in sorted(set(keys) - got.get(table, set())):
            problems.append(f"{page.name}: {label} takes \"{key}\" but the page does not list it")
        for key in sorted(got.get(table, set()) - set(keys)):
            problems.append(f"{page.name}: {label} lists \"{key}\", which the parser does not take")
    for table in sorted(set(headings) - set(tables)):
        problems.append(f"{page.name}: heading [{table}] is not a table the parser takes")


def lint(path, page, problems):
    for section in SECTIONS:
        if section not in page.sections:
            problems.append(f"{page.name}: no {section} section")
    files = "\n".join(plain(line) for line in page.lines)
    for f in FILES.get(page.name, []):
        if f not in files:
            problems.append(f"{page.name}: does not name {f}")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    for argv in (["groff", "-man", "-ww", "-z", path],
                 ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path]):
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        if r.returncode != 0 or r.stderr.strip():
            problems.append(f"{page.name}: {' '.join(argv[:2])} warns: {r.stderr.strip()} (exit {r.returncode})")
    for n, line in enumerate(page.lines, 1):
        if line.startswith('.\\"'):
            continue
        for m in re.finditer(r"(?<![\\\w])-{1,2}[A-Za-z0-9]", line):
            problems.append(f"{page.name}:{n}: \"{m.group(0)}\" should be written \"\\-\" (a minus sign)")
            break


def rendered_examples(path):
    r = subprocess.run(["groff", "-man", "-Tascii", "-P", "-cbou", "-rLL=200n", path], capture_output=True,
                       text=True, timeout=60)
    text = r.stdout
    m = re.search(r"^EXAMPLES\n(.*?)^SEE ALSO", text, re.S | re.M)
    if not m:
        return ""
    return "\n".join(line[7:] if line.startswith("       ") else line for line in m.group(1).splitlines())


def check_examples(man_dir, hoist, hoistd, problems):
    with tempfile.TemporaryDirectory() as tmp:
        for page, argv in (("hoist-policy.5", [hoist, "policy", "check"]),
                           ("hoistd.toml.5", [hoistd, "--check-config", "-c"])):
            example = os.path.join(tmp, page + ".toml")
            with open(example, "w") as f:
                f.write(rendered_examples(os.path.join(man_dir, page)))
            r = subprocess.run(argv + [example], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                problems.append(f"{page}: the example does not pass {' '.join(argv[1:])}: {r.stdout}{r.stderr}")


def check(hoist, agent, hoistd, man_dir, facts):
    problems = []
    pages = {name: Page(os.path.join(man_dir, name)) for name in PAGES}
    all_long = set()
    for tree in facts["trees"].values():
        for cmd in tree.values():
            all_long.update(n for n in cmd.options if n.startswith("--"))
    for name, binary in (("hoist.1", "hoist"), ("hoist-agent.8", "hoist-agent"), ("hoistd.8", "hoistd")):
        check_program(pages[name], facts["trees"][binary], all_long, problems)
    check_tables(pages["hoistd.toml.5"], facts["config"], problems)
    policy = {"": (facts["policy"][""], False)}
    for table in ("settings", "rule", "auto_approval"):
        policy[table] = (facts["policy"][table], table != "settings")
    # The top level lists version; its tables are the headings.
    top = [k for k in facts["policy"][""] if k not in policy]
    policy[""] = (top, False)
    for table in policy:
        if table and table not in facts["policy"][""]:
            problems.append(f"hoist-policy.5: the parser no longer has a top-level {table}")
    check_tables(pages["hoist-policy.5"], policy, problems)
    sudo_options = {tag.split("=")[0] for section, _, tag in pages["hoist_sudo.8"].entries if section == "OPTIONS"}
    for key in sorted(set(facts["plugin"]) - sudo_options):
        problems.append(f"hoist_sudo.8: the plugin takes {key}= but OPTIONS does not list it")
    for key in sorted(sudo_options - set(facts["plugin"])):
        problems.append(f"hoist_sudo.8: OPTIONS lists {key}=, which the plugin does not take")
    for name, page in pages.items():
        lint(os.path.join(man_dir, name), page, problems)
    check_examples(man_dir, hoist, hoistd, problems)
    return problems


def self_test(hoist, agent, hoistd, man_dir, facts):
    """Each edit must be reported, naming what changed."""
    edits = [
        ("hoist.1", ".BI \\-\\-duration \" DURATION\"\nGrant for less", ".BI \\-\\-length \" DURATION\"\nGrant for less",
         ["\"requests approve\" has option --duration", "\"requests approve\" lists option --length"]),
        ("hoist-agent.8", ".B \\-\\-force\nReplace an existing enrolment.\n", "",
         ["\"enroll\" has option --force"]),
        ("hoist-agent.8", ".SS status\n", ".SS state\n", ["heading \"state\" names no command"]),
        ("hoistd.8", ".B \\-\\-check\\-config\n", ".B \\-\\-check\\-configuration\n",
         ["has option --check-config", "mentions --check-configuration"]),
        ("hoistd.toml.5", ".BR workers \" = 4\"\n", ".BR worker_count \" = 4\"\n",
         ["[notify] takes \"workers\"", "[notify] lists \"worker_count\""]),
        ("hoist-policy.5", ".B clsid\n", ".B guid\n", ["[[rule]] takes \"clsid\"", "[[rule]] lists \"guid\""]),
        ("hoist_sudo.8", ".BI pam_confdir= DIR\n", ".BI pam_dir= DIR\n",
         ["takes pam_confdir=", "lists pam_dir="]),
        ("hoist.1", "Print the version and exit.", "Print the version and exit (or -v).",
         ["should be written"]),
        ("hoist.1", ".SH FILES\n", ".SH FILE\n", ["hoist.1: no FILES section"]),
        ("hoist.1", ".SS \"requests show \\fIID\\fR\"", ".SS \"requests show\"",
         ["\"requests show\" shows the arguments [], --help has ['id']"]),
        ("hoist.1", ".SS \"grants revoke \\fIID\\fR\"", ".SS \"grants revoke \\fIID\\fR \\fIREASON\\fR\"",
         ["shows the arguments ['ID', 'REASON'], --help has ['id']"]),
        ("hoist-policy.5", "action = \"allow\"\npackage", "action = \"permit\"\npackage",
         ["the example does not pass policy check"]),
    ]
    failures = []
    for page, old, new, expected in edits:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "man")
            shutil.copytree(man_dir, copy)
            path = os.path.join(copy, page)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                failures.append(f"self-test: {page} no longer has {old!r} to change")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            problems = check(hoist, agent, hoistd, copy, facts)
            for want in expected:
                if not any(want in p for p in problems):
                    failures.append(f"self-test: changing {page} ({old.strip()!r} -> {new.strip()!r}) "
                                    f"was not reported as \"{want}\"; reported: {problems}")
    return failures


def main():
    args = [a for a in sys.argv[1:] if a != "--self-test"]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    hoist, agent, hoistd, man_dir = args
    facts = {
        "trees": {"hoist": hoist_probes.command_tree(hoist), "hoist-agent": hoist_probes.command_tree(agent),
                  "hoistd": hoist_probes.command_tree(hoistd)},
        "config": hoist_probes.hoistd_config_keys(hoistd),
        "policy": hoist_probes.policy_fields(hoist),
        "plugin": hoist_probes.plugin_options(agent),
    }
    if "--self-test" in sys.argv:
        problems = check(hoist, agent, hoistd, man_dir, facts)
        if problems:
            print("the pages must pass before the self-test:\n" + "\n".join(problems))
            return 1
        problems = self_test(hoist, agent, hoistd, man_dir, facts)
    else:
        problems = check(hoist, agent, hoistd, man_dir, facts)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s); the pages are packaging/man/*, the checks tests/packaging/")
        return 1
    n = sum(len(t) for t in facts["trees"].values())
    print(f"ok: {len(PAGES)} pages, {n} commands, {len(facts['config'])} hoistd.toml tables, "
          f"{sum(len(v) for v in facts['policy'].values())} policy fields, {len(facts['plugin'])} plugin options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
