"""``tessera completion bash|zsh|fish``: completion scripts generated from the argparse tree.

The tree is read once into :class:`Node` objects (commands, options, which options take a
value, their choices, which take file names), and each shell's script is written from it,
so a new option is completable without touching this module.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tessera.cli._parser import add_output_options

if TYPE_CHECKING:
    from tessera.cli._output import Output

__all__ = [
    "Node",
    "Option",
    "bash_script",
    "define_completion",
    "fish_script",
    "tree",
    "zsh_script",
]

SHELLS = ("bash", "zsh", "fish")

COMPLETION_EXAMPLES = """\
install:
  bash  echo 'eval "$(tessera completion bash)"' >> ~/.bashrc
  zsh   tessera completion zsh > "${fpath[1]}/_tessera"     # or: source <(tessera completion zsh)
  fish  tessera completion fish > ~/.config/fish/completions/tessera.fish
"""


@dataclass
class Option:
    """One option or positional: its flags (empty for positionals), value and help."""

    flags: list[str]
    name: str
    help: str
    takes_value: bool
    choices: list[str] | None
    files: bool
    nargs: Any = None


@dataclass
class Node:
    """A command: its options, positionals and subcommands."""

    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    positionals: list[Option] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)


def define_completion(p: argparse.ArgumentParser) -> None:
    """The ``completion`` options."""
    p.description = "Print a completion script for bash, zsh or fish."
    p.epilog = COMPLETION_EXAMPLES
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    add_output_options(p)
    p.set_defaults(handler=run_completion)


def run_completion(args: argparse.Namespace, out: Output) -> int:
    """Print the script for ``args.shell``."""
    from tessera.cli._parser import build_parser

    root = tree(build_parser())
    if out.json_mode:
        from dataclasses import asdict

        out.emit_json(asdict(root))
        return 0
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](root)
    out.stream.write(script)
    return 0


def _is_files(action: argparse.Action) -> bool:
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return "FILE" in metavar


def tree(parser: argparse.ArgumentParser, name: str = "tessera", help_text: str = "") -> Node:
    """The command tree below ``parser``."""
    node = Node(name, help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for child_name, child in action.choices.items():
                node.children[child_name] = tree(child, child_name, helps.get(child_name, ""))
            continue
        if action.help == argparse.SUPPRESS:
            continue
        choices = [str(c) for c in action.choices] if action.choices else None
        item = Option(
            flags=list(action.option_strings),
            name=(action.metavar if isinstance(action.metavar, str) else action.dest),
            help=(action.help or "").replace("%%", "%"),
            takes_value=action.nargs != 0,
            choices=choices,
            files=_is_files(action),
            nargs=action.nargs,
        )
        (node.options if action.option_strings else node.positionals).append(item)
    return node


def _walk(node: Node, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Node]]:
    here = (*path, node.name)
    found = [(here, node)]
    for child in node.children.values():
        found += _walk(child, here)
    return found


# -- bash ------------------------------------------------------------------------------------


def _bash_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def bash_script(root: Node) -> str:
    """A bash completion function (needs bash 4.2 for ``declare -gA``)."""
    subs, opts, valued, choices, files, positionals, posfiles = [], [], [], [], [], [], []
    for path, node in _walk(root):
        key = " ".join(path)
        if node.children:
            subs.append(f"[{_bash_quote(key)}]={_bash_quote(' '.join(node.children))}")
        flags = [flag for opt in node.options for flag in opt.flags]
        opts.append(f"[{_bash_quote(key)}]={_bash_quote(' '.join(flags))}")
        takes = [flag for opt in node.options if opt.takes_value for flag in opt.flags]
        valued.append(f"[{_bash_quote(key)}]={_bash_quote(' ' + ' '.join(takes) + ' ')}")
        for opt in node.options:
            for flag in opt.flags:
                if opt.choices:
                    choices.append(
                        f"[{_bash_quote(key + '|' + flag)}]={_bash_quote(' '.join(opt.choices))}"
                    )
                elif opt.files:
                    files.append(f"[{_bash_quote(key + '|' + flag)}]=1")
        pos_choices = [c for p in node.positionals for c in (p.choices or [])]
        if pos_choices:
            positionals.append(f"[{_bash_quote(key)}]={_bash_quote(' '.join(pos_choices))}")
        if any(p.files for p in node.positionals):
            posfiles.append(f"[{_bash_quote(key)}]=1")

    def table(name: str, rows: list[str]) -> str:
        body = "".join(f"    {row}\n" for row in rows)
        return f"declare -gA {name}=(\n{body})\n"

    return (
        "# bash completion for tessera (generated by 'tessera completion bash')\n"
        + table("_tessera_sub", subs)
        + table("_tessera_opts", opts)
        + table("_tessera_valued", valued)
        + table("_tessera_choices", choices)
        + table("_tessera_files", files)
        + table("_tessera_pos", positionals)
        + table("_tessera_posfiles", posfiles)
        + _BASH_FUNCTION
    )


_BASH_FUNCTION = r"""
_tessera() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="tessera" word prev
    local -i i skip=0
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        if [[ $word == -* ]]; then
            [[ $word != *=* && ${_tessera_valued[$path]} == *" $word "* ]] && skip=1
            continue
        fi
        if [[ " ${_tessera_sub[$path]-} " == *" $word "* ]]; then
            path="$path $word"
        fi
    done
    if ((skip)); then
        prev="${COMP_WORDS[COMP_CWORD-1]}"
        if [[ -n ${_tessera_choices[$path|$prev]-} ]]; then
            mapfile -t COMPREPLY < <(compgen -W "${_tessera_choices[$path|$prev]}" -- "$cur")
        elif [[ -n ${_tessera_files[$path|$prev]-} ]]; then
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${_tessera_opts[$path]-}" -- "$cur")
        return 0
    fi
    mapfile -t COMPREPLY < <(compgen -W "${_tessera_sub[$path]-} ${_tessera_pos[$path]-}" -- "$cur")
    if [[ -n ${_tessera_posfiles[$path]-} ]]; then
        local -a more
        mapfile -t more < <(compgen -f -- "$cur")
        COMPREPLY+=("${more[@]}")
    fi
    return 0
}
complete -o filenames -F _tessera tessera
"""


# -- zsh -------------------------------------------------------------------------------------


def _zsh_text(text: str) -> str:
    out = text
    for char in ("\\", "[", "]", ":"):
        out = out.replace(char, "\\" + char)
    return out.replace("'", "'\\''")


def _zsh_action(opt: Option) -> str:
    if opt.choices:
        return "(" + " ".join(_zsh_text(c) for c in opt.choices) + ")"
    return "_files" if opt.files else " "


def _zsh_function(path: tuple[str, ...], node: Node) -> str:
    name = "_" + "_".join(path)
    specs = []
    for opt in node.options:
        for flag in opt.flags:
            spec = f"{flag}[{_zsh_text(opt.help)}]"
            if opt.takes_value:
                spec += f":{_zsh_text(opt.name.lower())}:{_zsh_action(opt)}"
            specs.append(f"'{spec}'")
    if node.children:
        specs += ["'1: :->command'", "'*:: :->argument'"]
    for index, pos in enumerate(node.positionals, start=1):
        label = _zsh_text(pos.name.lower())
        if pos.nargs in ("+", "*"):
            specs.append(f"'*:{label}:{_zsh_action(pos)}'")
        elif pos.nargs == "?":
            specs.append(f"'{index}::{label}:{_zsh_action(pos)}'")
        else:
            specs.append(f"'{index}:{label}:{_zsh_action(pos)}'")
    lines = [f"{name}() {{"]
    if node.children:
        lines.append('    local curcontext="$curcontext" state line')
        lines.append("    typeset -A opt_args")
        lines.append("    _arguments -C \\")
    else:
        lines.append("    _arguments \\")
    lines.append("        " + " \\\n        ".join(specs))
    if node.children:
        described = " ".join(
            f"'{_zsh_text(child)}:{_zsh_text(c.help)}'" for child, c in node.children.items()
        )
        lines.append("    case $state in")
        lines.append("        command)")
        lines.append(f"            local -a commands=({described})")
        lines.append("            _describe -t commands 'command' commands ;;")
        lines.append("        argument)")
        lines.append("            case $line[1] in")
        for child in node.children:
            lines.append(f"                {child}) {name}_{child} ;;")
        lines.append("            esac ;;")
        lines.append("    esac")
    lines.append("}")
    return "\n".join(lines) + "\n"


def zsh_script(root: Node) -> str:
    """A zsh completion function (an ``fpath`` file or ``source <(...)``)."""
    functions = "\n".join(_zsh_function(path, node) for path, node in _walk(root))
    return (
        "#compdef tessera\n"
        "# zsh completion for tessera (generated by 'tessera completion zsh')\n\n"
        + functions
        + "\nif [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
        '    _tessera "$@"\n'
        "else\n"
        "    compdef _tessera tessera\n"
        "fi\n"
    )


# -- fish ------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(root: Node) -> str:
    """A fish completion file (``~/.config/fish/completions/tessera.fish``)."""
    lines = [
        "# fish completion for tessera (generated by 'tessera completion fish')",
        "complete -c tessera -f",
    ]
    for path, node in _walk(root):
        below = path[1:]
        seen = "; and ".join(f"__fish_seen_subcommand_from {p}" for p in below)
        if node.children:
            names = " ".join(node.children)
            here = (seen + "; and " if seen else "") + f"not __fish_seen_subcommand_from {names}"
            for child, child_node in node.children.items():
                lines.append(
                    f"complete -c tessera -n {_fish_quote(here)} -a {child} "
                    f"-d {_fish_quote(child_node.help)}"
                )
        condition = f"-n {_fish_quote(seen)} " if seen else "-n __fish_use_subcommand "
        for opt in node.options:
            parts = []
            for flag in opt.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if opt.takes_value:
                if opt.choices:
                    parts.append(f"-x -a {_fish_quote(' '.join(opt.choices))}")
                else:
                    parts.append("-r -F" if opt.files else "-x")
            lines.append(
                f"complete -c tessera {condition}{' '.join(parts)} -d {_fish_quote(opt.help)}"
            )
        for pos in node.positionals:
            if pos.choices:
                lines.append(
                    f"complete -c tessera {condition}-a {_fish_quote(' '.join(pos.choices))}"
                )
            elif pos.files:
                lines.append(f"complete -c tessera {condition}-F")
    return "\n".join(lines) + "\n"
