"""Where the files that are not Python live: templates, static files, migrations, alembic.ini.

In the repository they sit at its top level (templates/, static/, migrations/, alembic.ini);
a built wheel carries them inside the package as `app/_bundled/...` (pyproject.toml maps
them there). `importlib.resources` finds the packaged copy wherever the package is installed;
a source checkout or an editable install has none and uses the repository's own.
"""

from contextlib import ExitStack
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

BUNDLED = "_bundled"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
_keep = ExitStack()  # holds extracted copies (zipped installs only) open for the life of the process


@cache
def resource(name: str) -> Path:
    """A real file-system path to the shipped resource `name` (Jinja, Starlette and Alembic want paths)."""
    packaged = files("app").joinpath(BUNDLED, name)
    if packaged.is_dir() or packaged.is_file():
        return _keep.enter_context(as_file(packaged))
    source = SOURCE_ROOT / name
    if source.exists():
        return source
    raise FileNotFoundError(f"{name} is neither packaged with app nor in the source tree at {SOURCE_ROOT}; "
                            "reinstall the package (pip install .)")


def templates_dir() -> Path:
    return resource("templates")


def static_dir() -> Path:
    return resource("static")


def migrations_dir() -> Path:
    return resource("migrations")


def alembic_ini() -> Path:
    return resource("alembic.ini")
