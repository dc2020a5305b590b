#!/usr/bin/python3
"""bash_completion: packaging/completion/{hoist,hoist-agent} under bash with
Debian's bash-completion, against the programs' --help (issue 20, item 7).

For every command of each program: "CMD -<TAB>" offers exactly the options
--help lists; "CMD <TAB>" offers exactly its subcommands; after each option
that takes a value the next word is that value (no options offered, and a
subcommand name there is not taken as one), after each flag the options
come again; an option with a fixed set of values ({a,b}) offers exactly
them. Then a few inputs by hand: files and directories where an option or
argument is a path, hoist_sudo.so's options after --plugin-option, and the
--opt=value form, and that bash-completion's loader finds each file by
the command's name.

The completions run in every user's interactive shell on what they type:
a typed word is matched, never expanded or run. Words such as $(>FILE) and
`>FILE` in each kind of place must complete to nothing and create nothing.

check_completion.py HOIST HOIST_AGENT HOISTD COMPLETION_DIR"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hoist_probes  # noqa: E402

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

HARNESS = r"""
source %(lib)s || exit 70
source %(file)s || exit 70
compopt() { :; }  # only valid inside a real completion; what it sets is not tested here
t() {  # t ID LINE WORD...
    local id=$1 line=$2
    shift 2
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    %(func)s %(prog)s "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '@@%%s\n' "$id"
    [[ ${#COMPREPLY[@]} -gt 0 ]] && printf '%%s\n' "${COMPREPLY[@]}"
    printf '@@end\n'
}
"""


def bash_words(line):
    """COMP_WORDS as bash makes them: split on blanks, and "=" a word of its own."""
    words = []
    for w in line.split(" "):
        if "=" in w and w.startswith("-"):
            name, _, value = w.partition("=")
            words += [name, "=", value]
        else:
            words.append(w)
    return words


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def run_cases(completion, func, prog, cases, cwd):
    script = HARNESS % {"lib": BASH_COMPLETION, "file": quote(completion), "func": func, "prog": prog}
    for i, (line, _check) in enumerate(cases):
        script += f"t {i} {quote(line)} {' '.join(quote(w) for w in bash_words(line))}\n"
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                       cwd=cwd, timeout=120, env=dict(os.environ, LC_ALL="C.UTF-8"))
    if r.returncode != 0:
        raise RuntimeError(f"bash exited {r.returncode}: {r.stderr}")
    results, current = {}, None
    for line in r.stdout.splitlines():
        if line == "@@end":
            current = None
        elif line.startswith("@@"):
            current = int(line[2:])
            results[current] = set()
        elif current is not None:
            results[current].add(line)
    return results, r.stderr


def tree_cases(prog, tree):
    cases = []
    for path, cmd in tree.items():
        base = " ".join((prog,) + path)
        options = set(cmd.options)
        cases.append((f"{base} -", ("==", options)))
        if cmd.subcommands:
            cases.append((f"{base} ", ("==", set(cmd.subcommands))))
        for name, takes_value in cmd.options.items():
            if takes_value:
                cases.append((f"{base} {name} -", ("none of", options)))
                if cmd.subcommands:
                    sub = cmd.subcommands[0]
                    cases.append((f"{base} {name} {sub} ", ("==", set(cmd.subcommands))))
                if name in cmd.choices:
                    cases.append((f"{base} {name} ", ("==", set(cmd.choices[name]))))
            else:
                cases.append((f"{base} {name} -", ("==", options)))
    return cases


def check_loading(completion_dir):
    """bash-completion finds each file by the command's name, as from
    /usr/share/bash-completion/completions/ (here its per-user directory)."""
    problems = []
    with tempfile.TemporaryDirectory() as home:
        os.symlink(completion_dir, os.path.join(home, "completions"))
        for prog, func in (("hoist", "_hoist"), ("hoist-agent", "_hoist_agent")):
            script = f"source {BASH_COMPLETION} && __load_completion {prog} && complete -p {prog}"
            r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, BASH_COMPLETION_USER_DIR=home))
            if r.stdout.strip() != f"complete -F {func} {prog}" or r.stderr.strip():
                problems.append(f"bash-completion does not load {prog}'s completion by its name: "
                                f"{r.stdout.strip()} {r.stderr.strip()}")
    return problems


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 64
    hoist, agent, _hoistd, completion_dir = sys.argv[1:]
    completion_dir = os.path.abspath(completion_dir)
    if not os.path.exists(BASH_COMPLETION):
        print(f"{BASH_COMPLETION} is missing: install Debian's bash-completion (scripts/install-deps.sh)")
        return 1
    plugin_keys = {k + "=" for k in hoist_probes.plugin_options(agent)}
    by_hand = {
        "hoist": [
            ("hoist re", ("==", {"requests"})),
            ("hoist requests ap", ("==", {"approve"})),
            ("hoist --json requests list --st", ("==", {"--state"})),
            ("hoist requests list --state=p", ("==", {"pending"})),
            ("hoist requests list --state ", ("==", {"pending", "approved", "active", "denied", "cancelled",
                                                     "expired", "revoked"})),
            ("hoist policy check fl", ("==", {"fleet.toml"})),
            ("hoist policy test fleet.toml --user alice -- ", ("has", {"fleet.toml", "statedir"})),
            ("hoist audit export -o fl", ("==", {"fleet.toml"})),
            ("hoist login --ca-file ", ("has", {"fleet.toml"})),
            ("hoist policy test --dpkg-dir ", ("==", {"statedir"})),
            ("hoist requests show ", ("==", set())),
            ("hoist $(>pwned1)", ("==", set())),
            ("hoist requests list --state $(>pwned2)", ("==", set())),
            ("hoist requests list --state=$(>pwned3)", ("==", set())),
            ("hoist policy check $(>pwned4)", ("==", set())),
            ("hoist audit export -o `>pwned5`", ("==", set())),
            ("hoist requests $(>pwned6) -", ("==", {"-h", "--help"})),
        ],
        "hoist-agent": [
            ("hoist-agent ", ("==", {"enroll", "set-servers", "run", "status", "install-plugin",
                                     "uninstall-plugin", "doctor"})),
            ("hoist-agent install-plugin --plugin-option ", ("==", plugin_keys)),
            ("hoist-agent run --state-dir ", ("==", {"statedir"})),
            ("hoist-agent enroll --state-dir=s", ("==", {"statedir"})),
            ("hoist-agent install-plugin --sudo-conf ", ("has", {"fleet.toml", "statedir"})),
            ("hoist-agent install-plugin --break-glass-file fl", ("==", {"fleet.toml"})),
            ("hoist-agent $(>pwned7)", ("==", set())),
            ("hoist-agent install-plugin --plugin-option $(>pwned8)", ("==", set())),
            ("hoist-agent run --state-dir `>pwned9`", ("==", set())),
        ],
    }
    problems = check_loading(completion_dir)
    total = 0
    with tempfile.TemporaryDirectory() as cwd:
        open(os.path.join(cwd, "fleet.toml"), "w").close()
        os.mkdir(os.path.join(cwd, "statedir"))
        for prog, binary, func in (("hoist", hoist, "_hoist"), ("hoist-agent", agent, "_hoist_agent")):
            if not os.path.isfile(os.path.join(completion_dir, prog)):
                problems.append(f"{completion_dir}/{prog} is missing")
                continue
            cases = tree_cases(prog, hoist_probes.command_tree(binary)) + by_hand[prog]
            results, stderr = run_cases(os.path.join(completion_dir, prog), func, prog, cases, cwd)
            if stderr.strip():
                problems.append(f"{prog}: bash said: {stderr.strip()}")
            for i, (line, (how, want)) in enumerate(cases):
                got = results.get(i)
                ok = got is not None and (
                    got == want if how == "==" else want <= got if how == "has" else not (got & want))
                if not ok:
                    problems.append(f"{prog}: \"{line}<TAB>\" offers {sorted(got or [])}, expected {how} "
                                    f"{sorted(want)}")
            total += len(cases)
        made = sorted(set(os.listdir(cwd)) - {"fleet.toml", "statedir"})
        if made:
            problems.append(f"completing typed words ran them: they created {made}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {total} completions; the files are packaging/completion/*")
        return 1
    print(f"ok: {total} completions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
