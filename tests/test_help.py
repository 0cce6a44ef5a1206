"""``--help``: it answers without importing torch, and it shows every option's default."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from trainfree.cli import build_parser, main

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}
HEAVY = ("torch", "scipy", "sklearn", "pandas")  # each costs from a tenth of a second to seconds to import


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub-)command as (argv, parser), the top level and the groups included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


COMMANDS = {" ".join(path): p for path, p in commands(build_parser())}
LEAVES = [name for name, p in COMMANDS.items()
          if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)]


def test_the_command_tree_is_what_this_file_walks():
    assert {"", "score", "score mislabel", "score cg", "value davinz", "experiment prune", "report"} <= set(COMMANDS)
    assert len(LEAVES) >= 14  # 7 scores, value davinz, 5 experiments, report


def test_no_help_imports_torch_scipy_sklearn_or_pandas():
    script = ("import json, sys\nfrom trainfree.cli import main\n"
              f"for name in {sorted(COMMANDS)!r}:\n"
              "    assert main([*name.split(), '--help']) == 0, name\n"
              f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n")
    run = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.splitlines()[-1]) == []
    # The check can fail: the library itself does import them.
    run = subprocess.run([sys.executable, "-c", "import sys, trainfree; trainfree.mislabel_score; print('torch' in "
                          "sys.modules)"], env=ENV, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"


@pytest.mark.parametrize("argv", [["--help"], ["score", "mislabel", "--help"]])
def test_python_m_trainfree_help_imports_no_torch(argv):
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "trainfree", *argv], env=ENV,
                         capture_output=True, text=True, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert "trainfree.cli" in imported and "usage: trainfree" in run.stdout
    assert [m for m in imported if m.split(".")[0] in HEAVY] == []


def option_help(text: str, action: argparse.Action) -> str:
    """The lines of ``--help`` output ``text`` that describe ``action``, joined with single spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line[:3] == "  -" and line.split()[0].rstrip(",") == action.option_strings[0])
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("   "):  # the next option (two spaces), a blank line or a section title
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def shown_default(action: argparse.Action) -> str | None:
    """What ``--help`` must say is the default of ``action``; None where nothing needs saying."""
    if not action.option_strings or action.default in (None, argparse.SUPPRESS):
        return None
    if isinstance(action, argparse.BooleanOptionalAction):
        return "on" if action.default else "off"
    return None if action.nargs == 0 else str(action.default)  # store_true: off unless given


@pytest.mark.parametrize("name", LEAVES)
def test_help_shows_every_default_and_helps_every_option(name, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no line wrapped inside a value
    assert main([*name.split(), "--help"]) == 0
    text = capsys.readouterr().out
    checked = 0
    for action in COMMANDS[name]._actions:
        if not action.option_strings or action.dest == "help":
            continue
        block = option_help(text, action)
        assert action.help, f"{name} {action.option_strings[0]} has no help: {block!r}"
        default = shown_default(action)
        if default is not None:
            assert "default" in block and default in block, f"{name}: {block!r}"
            checked += 1
    assert checked >= (0 if name == "report" else 5)  # --data, --label-column, --seed, --device, --report


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_help_has_a_runnable_looking_example(name, capsys):
    assert main([*name.split(), "--help"]) == 0
    text = capsys.readouterr().out
    first = text[text.index("\nexample") + 1:].splitlines()[1]  # the line after "example:" or "examples:"
    assert first.startswith(f"  trainfree {name}".rstrip()) and ("--out" in first or name == "report")


def test_defaults_are_shown_exactly_once():
    text = COMMANDS["score mislabel"].format_help()
    assert "(default: raw)" in text and "(default: 5000)" in text and "(default: on)" in text
    assert "(default: False)" not in text and "default: None" not in text
    # Help that already names its default gets no second one.
    assert "recommended (default):" in (davinz := COMMANDS["value davinz"].format_help())
    assert "(default: recommended)" not in davinz


def test_cli_choices_are_the_librarys():
    from trainfree.cli import _common
    from trainfree.training.models import KINDS
    from trainfree.kernels.mmd import ESTIMATORS

    assert _common.MODELS == tuple(KINDS) and _common.MMD_ESTIMATORS == tuple(ESTIMATORS)
    from trainfree.valuation.davinz_options import DEFAULT_NU, NU_PRESETS

    assert _common.NU_PRESETS == tuple(NU_PRESETS) and _common.DEFAULT_NU == DEFAULT_NU


def test_help_names_every_input_and_what_ignores_n_jobs(capsys):
    assert main(["score", "mislabel", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Dataset.save_to_disk" in text and "label field of a save_to_disk folder" in text
    assert "exact, lowrank and auto ignore it" in text
    assert main(["score", "cg", "--help"]) == 0
    assert "exact ignores it" in " ".join(capsys.readouterr().out.split())
