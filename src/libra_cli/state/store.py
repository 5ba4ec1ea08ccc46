"""The state file: an embedded SQLite database of what was hashed where (hashes, never media or list entries).

Why SQLite: one file, transactions (a killed run leaves what it committed, and nothing half-written),
WAL (readers such as ``libra history`` never block the nightly writer), and an index by location.

Safety rules, because the file is long-lived and found by path:

- A file that is not libra's state is refused in one sentence and never touched: its header must say
  SQLite, carry libra's application id, and be as long as its header says (truncated files are
  refused before SQLite reads them). A damaged page found later is one sentence too, never a traceback.
- One writer at a time: an exclusive ``flock`` on a sidecar ``PATH.lock`` (holding the writer's pid).
  A second scan on the same state is refused with the pid of the one holding it; readers need no lock.
- Created ``0600`` (its -wal and -shm files take the same mode); folders made ``0700``.
- A schema version in ``meta`` and in ``PRAGMA user_version``; older schemas are migrated in one
  transaction on open, newer ones are refused (a downgrade never rewrites a newer file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .. import __version__
from ..errors import StateError
from ..textsafe import printable

#: ``PRAGMA application_id``: "LBRA". A SQLite file without it is some other program's database.
APPLICATION_ID = 0x4C425241
APPLICATION = "libra-state"
SCHEMA = 4
SQLITE_MAGIC = b"SQLite format 3\x00"

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL,
    complete INTEGER,
    exit_code INTEGER
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    location BLOB NOT NULL UNIQUE,   -- the URI as bytes (file names need not be UTF-8)
    size INTEGER NOT NULL,
    mtime_ns INTEGER,
    inode INTEGER,
    ctime_ns INTEGER,
    etag TEXT,
    version_id TEXT,
    media_type TEXT,
    width INTEGER,
    height INTEGER,
    computed TEXT NOT NULL,          -- the hash set held: "md5,sha256,pdq@1" (perceptual types versioned)
    fingerprint TEXT NOT NULL,       -- the perceptual parameters the hashes were computed with
    hashes BLOB NOT NULL,            -- the result in the worker wire format (msgpack, engine/wire.py)
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    hashed_at REAL NOT NULL,
    last_run INTEGER NOT NULL,
    gone_at REAL                     -- no longer found by a complete walk of its target
);
"""

_V2 = """
ALTER TABLE runs ADD COLUMN command TEXT NOT NULL DEFAULT 'scan';
ALTER TABLE runs ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN lists TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN hash_set TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN counts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN resumed_from INTEGER;
CREATE TABLE findings (
    run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    location BLOB NOT NULL,
    list TEXT NOT NULL,
    entry TEXT NOT NULL,             -- the entry id (or the matched value's type and distance, if it has none)
    hash_type TEXT NOT NULL,
    method TEXT NOT NULL,
    distance INTEGER NOT NULL,
    allowed TEXT,                    -- the reason of the allow record that suppressed it
    PRIMARY KEY (run, location, list, entry)
);
CREATE INDEX findings_key ON findings (location, list, entry);
CREATE TABLE departures (              -- matched locations a complete walk no longer found
    run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    location BLOB NOT NULL,
    PRIMARY KEY (run, location)
);
CREATE TABLE allow (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- 'location' or a digest type ('sha256', 'md5', ...)
    value BLOB NOT NULL,
    reason TEXT NOT NULL,
    added REAL NOT NULL,
    UNIQUE (kind, value)
);
"""

#: A location allow record holds the reviewed version's identity (JSON): a changed file is matched again.
_V3 = """
ALTER TABLE allow ADD COLUMN identity TEXT
"""

#: The hash values lists are made of, in columns of their own (``codec.COLUMN_TYPES``): a rematch reads them
#: with one query into arrays instead of unpacking every row's ``hashes`` (``state/bulk.py``). ``columns``
#: says the row's values of those types are there (0: a row written before them that could not be read, and
#: rows of older libras until the backfill below fills them: those are read from ``hashes``).
#: ``files_archives`` lists the stored archives (``codec.ARCHIVE``), which a rematch names first, without
#: a pass over the whole table.
_V4 = """
ALTER TABLE files ADD COLUMN h_md5 BLOB;
ALTER TABLE files ADD COLUMN h_sha1 BLOB;
ALTER TABLE files ADD COLUMN h_sha256 BLOB;
ALTER TABLE files ADD COLUMN h_blake3 BLOB;
ALTER TABLE files ADD COLUMN h_pdq BLOB;          -- every PDQ row of the file (image and variants), 32 bytes each
ALTER TABLE files ADD COLUMN columns INTEGER NOT NULL DEFAULT 0;
CREATE INDEX files_archives ON files (id) WHERE fingerprint = 'archive'
"""

#: The statements that bring a schema ``n - 1`` file to ``n``.
MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4}


def _fill_columns(db: sqlite3.Connection) -> None:
    from .bulk import fill_columns  # msgpack and the signal registry: only when a state is upgraded

    fill_columns(db)


#: Work in Python after a step's statements, in the same transaction (filling new columns from old rows).
BACKFILLS: dict[int, Callable[[sqlite3.Connection], None]] = {4: _fill_columns}


def default_state_path() -> str:
    """``$XDG_STATE_HOME/libra/state.db`` (``~/.local/state/libra/state.db`` without it)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "libra", "state.db")


def key(uri: str) -> bytes:
    """A location as stored: UTF-8, with undecodable file-name bytes kept as they were."""
    return uri.encode("utf-8", "surrogateescape")


def uri(stored: bytes) -> str:
    return bytes(stored).decode("utf-8", "surrogateescape")


def prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """``[low, high)`` of stored locations under ``prefix`` (a folder: its contents; else a string prefix)."""
    low = key(prefix)
    high = bytearray(low)
    while high and high[-1] == 0xFF:
        high.pop()
    if not high:
        return low, b"\xff" * (len(low) + 1)
    high[-1] += 1
    return low, bytes(high)


class StateStore:
    """An open state file. ``open`` checks, locks (for writing) and migrates it; use as a context manager."""

    def __init__(self, path: str, db: sqlite3.Connection, lock_fd: int | None) -> None:
        self.path = path
        self.db = db
        self._lock_fd = lock_fd

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str, *, write: bool = True, create: bool = True) -> StateStore:
        """Open the state at ``path``; ``write`` takes the writer's lock; ``create`` makes a new file."""
        path = os.path.abspath(os.path.expanduser(path))
        shown = printable(path)
        exists = os.path.lexists(path)
        if exists:
            check_header(path)
        elif not create:
            raise StateError(f"state {shown} does not exist (a scan with --state {shown} creates it)")
        lock_fd = _lock(path) if write else None
        created = False
        try:
            if not exists and os.path.lexists(path):  # another run created it while this one waited for the lock
                exists = True
            if not exists:
                _create_file(path)
                created = True
            else:
                check_header(path)  # again, under the lock: another run may have been creating it
            db = connect(path)
            store = cls(path, db, lock_fd)
            try:
                store._prepare(new=not exists, write=write)
            except BaseException:
                db.close()
                raise
            return store
        except BaseException:
            if created:  # a state this run began to create and could not finish: never left half-made
                for suffix in ("", "-wal", "-shm", "-journal"):
                    with contextlib.suppress(OSError):
                        os.unlink(path + suffix)
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    def _prepare(self, *, new: bool, write: bool) -> None:
        with self.guard("open"):
            if new:
                self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self.db.execute("PRAGMA journal_mode = WAL")
                self._migrate(0)
                with self.db:
                    self.db.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("application", APPLICATION), ("created", str(time.time())), ("created_by", __version__)],
                    )
                return
            version = self.schema_version()
            if version > SCHEMA:
                raise StateError(
                    f"state {printable(self.path)} was written by a newer libra (schema {version}); "
                    f"this libra reads schema {SCHEMA} and older"
                )
            if version < SCHEMA:
                if not write:
                    raise StateError(
                        f"state {printable(self.path)} has an older schema ({version}); "
                        "run a scan or 'libra state vacuum' with it once to upgrade it"
                    )
                self._migrate(version)

    def schema_version(self) -> int:
        try:
            rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            rows = {}
        if rows.get("application") != APPLICATION or not str(rows.get("schema", "")).isdigit():
            raise StateError(f"{printable(self.path)} is not a libra state file (no libra metadata)")
        return int(rows["schema"])

    def _migrate(self, version: int) -> None:
        """Apply every migration after ``version`` in one transaction: all of them, or none."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version + 1, SCHEMA + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                if version and step in BACKFILLS:  # a new file has no rows to fill
                    BACKFILLS[step](self.db)
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA),))
            self.db.execute(f"PRAGMA user_version = {SCHEMA}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # -- use ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """SQLite's errors as one sentence naming the state file (a full disk, a damaged page)."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            what = str(err).rstrip(".")
            if "malformed" in what or "not a database" in what:
                raise StateError(
                    f"state {printable(self.path)} is damaged ({what}); move it away or restore a backup"
                ) from None
            raise StateError(f"state {printable(self.path)}: cannot {doing} ({what})") from None

    def transaction(self, work: Callable[[sqlite3.Connection], object], doing: str = "write") -> None:
        """``work`` in one transaction: committed whole, or (on any error) not at all."""
        with self.guard(doing):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                work(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def own_files(self) -> set[tuple[int, int]]:
        """(device, inode) of the state's files, so a scan of the folder holding them skips them."""
        found = set()
        for suffix in ("", "-wal", "-shm", ".lock", "-journal"):
            with contextlib.suppress(OSError):
                st = os.stat(self.path + suffix)
                found.add((st.st_dev, st.st_ino))
        return found

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_header(path: str) -> None:
    """Refuse anything that is not a whole libra state file, before SQLite opens (and could change) it."""
    shown = printable(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise StateError(f"state {shown} is not a regular file")
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as err:
        raise StateError(f"cannot read state {shown}: {err.strerror or err}") from None
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise StateError(f"{shown} is not a libra state file (not an SQLite database); it was left as it is")
    if int.from_bytes(header[68:72], "big") != APPLICATION_ID:
        raise StateError(f"{shown} is another program's SQLite database, not a libra state file; it was left as it is")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the in-header size is trusted only when this says so
    if valid and st.st_size < page_size * pages:
        raise StateError(
            f"state {shown} is truncated ({st.st_size} of {page_size * pages} bytes); move it away or restore a backup"
        )


def writer_active(path: str) -> bool:
    """Whether a run holds the writer's lock of the state at ``path`` right now (a reader's question:
    ``libra history`` shows that run as running, not as killed)."""
    try:
        fd = os.open(path + ".lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing the descriptor drops a shared lock taken here
    return False


def _lock(path: str) -> int:
    """The writer's lock: ``flock`` on ``PATH.lock``, which holds the pid of the run holding it."""
    lock_path = path + ".lock"
    folder = os.path.dirname(path)
    _make_folder(folder)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise StateError(f"cannot lock state {printable(path)}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise StateError(f"state {printable(path)} is in use by another libra run{who}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _make_folder(folder: str) -> None:
    try:
        Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise StateError(f"cannot create the state folder {printable(folder)}: {err.strerror or err}") from None


def _create_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise StateError(f"cannot create state {printable(path)}: {err.strerror or err}") from None
    os.close(fd)


def connect(path: str) -> sqlite3.Connection:
    # Readers open read-write too (a WAL database needs its -shm), but take no lock and write nothing.
    try:
        db = sqlite3.connect(
            f"file:{Path(path).as_uri()[len('file://') :]}?mode=rw",
            uri=True,
            isolation_level=None,  # transactions are explicit (StateStore.transaction)
            timeout=30,
        )
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: consistent after a crash; the last batch may be lost
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as err:
        raise StateError(f"cannot open state {printable(path)} ({str(err).rstrip('.')})") from None
    return db
