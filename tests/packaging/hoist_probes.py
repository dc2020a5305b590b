"""What Hoist's programs say about themselves, for the man_pages and
completion tests: the command tree from --help (CLI11's format), and the
keys hoistd's configuration, the policy and the sudo plugin take, from the
"unknown key" errors of the real parsers (which list what they accept)."""
import os
import re
import subprocess
import tempfile

HELP_OPTION = {"-h", "--help"}
# Words CLI11 prints after an option's names that are not its value's type.
_NOT_A_TYPE = {"Excludes:", "Needs:"}


class Command:
    """One command of a program: its path ("requests", "list"), options
    (name -> takes a value), subcommands, value choices ({a,b}) and
    positional arguments ((name, takes the rest))."""

    def __init__(self, path):
        self.path = path
        self.options = {}
        self.choices = {}
        self.subcommands = []
        self.positionals = []


def _run(argv, timeout=30):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def parse_help(text, path):
    cmd = Command(path)
    section = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", line):
            section = line[:-1]
            continue
        if not line.startswith("  "):
            if line.strip():
                section = None  # the footer
            continue
        if line.startswith("   "):
            continue  # a description continued
        body = line[2:]
        first = body.split()[0]
        if section == "Subcommands":
            cmd.subcommands.append(first)
        elif section == "Positionals":
            head = re.split(r"\s{2,}", body, maxsplit=1)[0]
            cmd.positionals.append((first, " ... " in head + " "))  # (name, takes the rest)
        elif section == "Options" and first.startswith("-"):
            rest = body[len(first):]
            # "--name TYPE..." (one blank) takes a value; "--name   description"
            # (the column's padding) or "--name Excludes: ..." does not.
            words = rest.split()
            takes_value = rest.startswith(" ") and not rest.startswith("  ") and words[0] not in _NOT_A_TYPE
            names = first.split(",")
            choices = None
            m = re.match(r"\s[A-Z]+:\{([^}]*)\}", rest)
            if m:
                choices = m.group(1).split(",")
            for name in names:
                cmd.options[name] = takes_value
                if choices:
                    cmd.choices[name] = choices
    return cmd


def command_tree(binary):
    """Every command of `binary`, by path (a tuple; () is the program)."""
    tree = {}

    def walk(path):
        rc, out, err = _run([binary, *path, "--help"])
        if rc != 0:
            raise RuntimeError(f"{binary} {' '.join(path)} --help exited {rc}: {err}")
        cmd = parse_help(out, path)
        tree[path] = cmd
        for sub in cmd.subcommands:
            walk(path + (sub,))

    walk(())
    return tree


def _after(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError(f"cannot read {what} from: {text!r}")
    return [k.strip() for k in m.group(1).split(",") if k.strip()]


def hoistd_config_keys(hoistd):
    """{table: ([keys], is_array_of_tables)} as hoistd's parser takes them."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "hoistd.toml")

        def probe(text):
            with open(conf, "w") as f:
                f.write(text)
            return _run([hoistd, "--check-config", "-c", conf])[2]

        tables = _after(r"the file takes: (.*)", probe("zzzzzzzzzz = 1\n"), "hoistd's tables")
        out = {}
        for t in tables:
            err = probe(f"[{t}]\nzzzzzzzzzz = 1\n")
            array = "takes:" not in err
            if array:
                err = probe(f"[[{t}]]\nzzzzzzzzzz = 1\n")
            out[t] = (_after(r"\] takes: (.*)", err, f"the keys of [{t}]"), array)
        return out


def policy_fields(hoist):
    """{"": top-level fields, "settings": [...], "rule": [...], "auto_approval": [...]}."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.toml")
        with open(path, "w") as f:
            f.write("version = 1\nzzzzzzzzzz = 1\n[settings]\nzzzzzzzzzz = 1\n[[rule]]\nzzzzzzzzzz = 1\n"
                    "[[auto_approval]]\nzzzzzzzzzz = 1\n")
        _, stdout, stderr = _run([hoist, "policy", "check", path])
        out = stdout + stderr
    fields = {}
    for where, key in (("policy", ""), (r"\[settings\]", "settings"), ("rule #1", "rule"),
                       ("auto_approval #1", "auto_approval")):
        fields[key] = _after(where + r' field "zzzzzzzzzz": unknown field; expected one of: (.*)', out,
                             f"the policy's {key or 'top-level'} fields")
    return fields


def plugin_options(agent):
    """The sudo.conf options hoist_sudo.so takes, as hoist-agent's check of
    --plugin-option (the plugin's own parser) lists them. The check comes
    before anything is read or written; the paths are made up all the same."""
    with tempfile.TemporaryDirectory() as tmp:
        err = _run([agent, "install-plugin", "--plugin-option", "zzzzzzzzzz=1", "--state-dir",
                    os.path.join(tmp, "none"), "--sudo-conf", os.path.join(tmp, "sudo.conf"), "--backup",
                    os.path.join(tmp, "backup")])[2]
    return _after(r"\(known: ([^)]*)\)", err, "the plugin's options")
