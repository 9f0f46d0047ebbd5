"""DailyMed v2 web services and ``getFile.cfm`` replayed from the recorded answers and SPL versions.

Every body is a recorded file served verbatim (a zip is built around a
recorded SPL XML when the client asks for ``type=zip``). Which set and version
a recording belongs to is read with ingest's own parsers (``parse_spl``,
``parse_dailymed_history``), so the replay and the crawler agree on it and a
damaged recording fails at start-up with its file named.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from pathlib import Path

from pgxlit.ingest.dailymed_json import parse_dailymed_history
from pgxlit.ingest.spl_xml import parse_spl

from .common import TEXT_TYPE, Reply

__all__ = ["DailyMedApi", "DailyMedIndex"]

_BASE = "/dailymed/services/v2"


def _history_set_id(data: bytes, path: Path) -> str:
    """The set a recorded history answer is about; the file name when the answer lists no version."""
    entries, _paging = parse_dailymed_history(data, str(path))
    return entries[0].set_id if entries else path.stem.lower()


class DailyMedIndex:
    """Recorded DailyMed web-service answers and SPL XML versions."""

    def __init__(self, fda_root: Path) -> None:
        self.histories: dict[str, bytes] = {}
        hist_dir = fda_root / "dailymed" / "history"
        for path in sorted(hist_dir.glob("*.json")) if hist_dir.is_dir() else []:
            data = path.read_bytes()
            self.histories[_history_set_id(data, path)] = data
        page1 = fda_root / "dailymed" / "spls" / "spls_page1.xml"
        self.spls_page1 = page1.read_bytes() if page1.is_file() else None
        self.spls: dict[str, dict[int, bytes]] = {}
        spl_dir = fda_root / "spl"
        for path in sorted(spl_dir.glob("*/*.xml")) if spl_dir.is_dir() else []:
            data = path.read_bytes()
            label = parse_spl(data, str(path))
            self.spls.setdefault(label.set_id, {})[label.version] = data
        self._zips: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    @property
    def spl_versions(self) -> int:
        return sum(len(v) for v in self.spls.values())

    def spl(self, setid: str, version: int | None = None) -> tuple[int, bytes] | None:
        """(version, recorded XML) of a set: the given version, or the newest recorded one."""
        versions = self.spls.get(setid.lower())
        if not versions:
            return None
        if version is None:
            version = max(versions)
        return (version, versions[version]) if version in versions else None

    def spl_zip(self, setid: str, version: int | None) -> bytes | None:
        """The recorded SPL XML in a zip, as getFile.cfm?type=zip sends it; built once, then cached."""
        found = self.spl(setid, version)
        if found is None:
            return None
        number, xml = found
        key = (setid.lower(), number)
        with self._lock:
            if key not in self._zips:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    info = zipfile.ZipInfo(f"{key[0]}_{number}.xml", date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, xml)
                self._zips[key] = buf.getvalue()
            return self._zips[key]


class DailyMedApi:
    """Routes ``/dailymed/...`` paths to the recorded answers; anything unrecorded is DailyMed's plain 404."""

    def __init__(self, index: DailyMedIndex) -> None:
        self.dm = index

    def handle(self, path: str, params: dict[str, str]) -> Reply:
        not_found = Reply(404, b"404 Not Found\n", TEXT_TYPE)
        if path == "/dailymed/getFile.cfm":
            return self._get_file(params) or not_found
        if not path.startswith(_BASE + "/"):
            return not_found
        rest = path.removeprefix(_BASE)
        if rest == "/spls.xml":
            page = params.get("page", "1").strip() or "1"
            if page == "1" and self.dm.spls_page1 is not None:
                return Reply(200, self.dm.spls_page1, "text/xml;charset=UTF-8")
            return not_found
        m = re.fullmatch(r"/spls/([0-9A-Za-z\-]+)/history(\.json)?", rest)
        if m:
            page = params.get("page", "1").strip() or "1"
            body = self.dm.histories.get(m.group(1).lower())
            if body is None or page != "1":
                return not_found
            return Reply(200, body, "application/json;charset=UTF-8")
        m = re.fullmatch(r"/spls/([0-9A-Za-z\-]+)\.xml", rest)
        if m:
            found = self.dm.spl(m.group(1))
            return Reply(200, found[1], "text/xml;charset=UTF-8") if found else not_found
        return not_found

    def _get_file(self, params: dict[str, str]) -> Reply | None:
        """getFile.cfm?type=zip|xml&setid=…[&version=…]; None when nothing recorded matches."""
        setid = params.get("setid", "").strip()
        kind = params.get("type", "zip").lower()
        version_text = params.get("version", "").strip()
        version = int(version_text) if version_text.isdigit() else None
        if version_text and version is None:
            return None
        if kind == "zip":
            data = self.dm.spl_zip(setid, version)
            if data is None:
                return None
            name = f"{setid.lower()}_{version if version is not None else max(self.dm.spls[setid.lower()])}.zip"
            return Reply(200, data, "application/zip", {"Content-Disposition": f'attachment; filename="{name}"'})
        if kind == "xml":
            found = self.dm.spl(setid, version)
            return Reply(200, found[1], "text/xml; charset=UTF-8") if found else None
        return None
