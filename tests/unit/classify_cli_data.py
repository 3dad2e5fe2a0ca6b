"""The data `perfics classify` is tested with (test_classify_cli.py and
test_classify_cli_reports.py): six bill titles, a three-label codebook, and two models on the
fake backend that answer from a table, so every count is worked out by hand:

    text  gold  fake-echo  SmolLM2 (its file is listed, the fake answers for it)
    t1    H     Health     Health
    t2    H     Health     Money
    t3    M     Money      Money
    t4    M     Other      Money
    t5    O     Other      Other
    t6    O     Other      Health

Against gold: fake-echo 5/6 right, SmolLM2 4/6. Between them 3/6 agree; fake-echo's labels
are H 2, M 1, O 3 and SmolLM2's H 2, M 3, O 1, so chance agreement is (2·2 + 1·3 + 3·1)/36
= 10/36 and Cohen's κ = (18/36 − 10/36)/(26/36) = 8/26.

Reviews (`review`): ann t1 H, t2 H, t3 M, t4 unclear; bob t1 H, t3 O, and t5 O undone.
"""

import csv
import json
from pathlib import Path

from core.app import classify
from core.app.cli import main
from core.engine.fake import FakeBackend
from core.types.classification import Coder, LabelValue

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1"
# text id -> (text, gold label as written, fake-echo's answer, SmolLM2's answer)
TEXTS = {
    "t1": ("hospital beds act", "H", "Health", "Health"),
    "t2": ("nurse pay act", "Health", "Health", "Money"),  # gold by name: resolved to H
    "t3": ("tax cut act", "M", "Money", "Money"),
    "t4": ("bank rules act", "M", "Other", "Money"),
    "t5": ("park names act", "O", "Other", "Other"),
    "t6": ("flag day act", "O", "Other", "Health"),
}
ANSWER_COLUMN = {"fake-echo": 2, SMOLLM2: 3}
IMPORT = ["--id-column", "id", "--text-column", "title"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`perfics ARGS` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def answering(info, cfg=None) -> FakeBackend:
    """The fake backend answering `info`'s column of TEXTS for the text being coded (the last
    user turn; few-shot examples come before it). Replaces context.open_backend."""
    by_text = {row[0]: row[ANSWER_COLUMN[info.name]] for row in TEXTS.values()}

    def respond(prompt: str) -> str:
        coded = prompt.rsplit("Text: ", 1)[1].removesuffix("\n\nAssistant:").strip()
        return by_text[coded]

    return FakeBackend(info=info, responder=respond)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_files(folder: Path) -> dict[str, Path]:
    """The bills (with gold labels) and the codebook as CSV files."""
    bills = write_csv(
        folder / "bills.csv",
        ["id", "title", "major"],
        [[tid, text, gold] for tid, (text, gold, _, _) in TEXTS.items()],
    )
    book = write_csv(
        folder / "topics.csv",
        ["code", "name", "description"],
        [["H", "Health", "hospitals, care"], ["M", "Money", "taxes, banks"], ["O", "Other", ""]],
    )
    return {"bills": bills, "book": book}


def import_args(path: Path, name: str, *extra: str) -> list[str]:
    """`classify import PATH --name NAME` with the id and text columns of the bills."""
    return ["classify", "import", str(path), "--name", name, *IMPORT, *extra]


def import_files(capsys, files: dict[str, Path]) -> None:
    """Dataset `bills` and codebook `topics`, through the CLI."""
    code, _, err = cli(capsys, *import_args(files["bills"], "bills", "--gold-column", "major"))
    assert code == 0, err
    assert cli(capsys, "classify", "codebook", str(files["book"]), "--name", "topics")[0] == 0


def code_bills(capsys, *extra: str) -> str:
    """A finished coding run of both models on bills/topics; returns its id."""
    models = ["--models", "fake-echo,SmolLM2"]
    exit_code, out, err = cli(
        capsys, "classify", "run", *scope(*models, "--quiet", "--json", *extra)
    )
    assert exit_code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed"
    return result["run_id"]


def decide(text_id: str, reviewer: str, *codes: str, unclear: bool = False) -> None:
    labels = [LabelValue(c) for c in codes]
    classify.decide("bills", "topics", text_id, reviewer, labels, unclear=unclear)


def review() -> None:
    """The reviews of the table above, through the use case the Review page calls."""
    decide("t1", "ann", "H")
    decide("t2", "ann", "H")
    decide("t3", "ann", "M")
    decide("t4", "ann", unclear=True)
    decide("t1", "bob", "H")
    decide("t3", "bob", "O")
    decide("t5", "bob", "O")
    assert classify.undo("bills", "topics", "bob") == "t5"


def scope(*args: str) -> list[str]:
    return ["--dataset", "bills", "--codebook", "topics", *args]


def coder(run_id: str, model: str, shots: int = 0) -> str:
    return Coder(run_id, model, shots).label
