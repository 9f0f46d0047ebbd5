"""Digest renderers: Markdown (email, chat), self-contained HTML, Atom, JSON. Pure: digest in, text out.

Markdown and HTML open with one line per label (drug, versions and dates, its PGx changes), most
important label first, then the details grouped by label; they show every PGx change and the
first few ordinary ones of each label update (the rest are counted). Atom has one entry per label
update; JSON carries everything.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from pgxlit.digest.model import TIERS, Change, Digest, LabelSummary, PairDigest
from pgxlit.records import label_date
from pgxlit.digest.text import word_diff

FORMATS = ("md", "html", "atom", "json")
OTHER_PER_PAIR = 10  # ordinary (non-PGx) changes shown per label update in md/html/atom
CONTEXT_WORDS = 18  # unchanged words kept either side of a change in excerpts
DAILYMED_SETID_URL = "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={set_id}"


def render(digest: Digest, fmt: str) -> str:
    """The digest in one of FORMATS."""
    if fmt == "json":
        return render_json(digest)
    if fmt == "md":
        return render_markdown(digest)
    if fmt == "html":
        return render_html(digest)
    if fmt == "atom":
        return render_atom(digest)
    raise ValueError(f"unknown digest format {fmt!r}: use one of {', '.join(FORMATS)}")


def render_json(digest: Digest) -> str:
    return orjson.dumps(digest.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n"


# ---- shared helpers --------------------------------------------------------------------------------
def shown_changes(pair: PairDigest, other_limit: int = OTHER_PER_PAIR) -> tuple[list[Change], int]:
    """Every PGx change of a label update and its first `other_limit` ordinary ones; and how many are left out."""
    pgx = [c for c in pair.changes if c.pgx_relevant]
    other = [c for c in pair.changes if not c.pgx_relevant]
    return pgx + other[:other_limit], max(0, len(other) - other_limit)


def _trim_equal(text: str, first: bool, last: bool, keep: int = CONTEXT_WORDS) -> str:
    words = text.split(" ")
    if len(words) <= 2 * keep + 1:
        return text
    if first:
        return "… " + " ".join(words[-keep:])
    if last:
        return " ".join(words[:keep]) + " …"
    return " ".join(words[:keep]) + " … " + " ".join(words[-keep:])


def side_runs(change: Change) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(old runs, new runs) for side-by-side display: ("=", text) shared, ("-"/"+", text) changed,
    long unchanged stretches cut to a few words of context."""
    if change.kind == "added" or not change.old_text:
        return [], [("+", change.new_text)]
    if change.kind == "removed" or not change.new_text:
        return [("-", change.old_text)], []
    runs = word_diff(change.old_text, change.new_text)
    old: list[tuple[str, str]] = []
    new: list[tuple[str, str]] = []
    for k, (op, text) in enumerate(runs):
        if op == "=":
            trimmed = _trim_equal(text, k == 0, k == len(runs) - 1)
            old.append(("=", trimmed))
            new.append(("=", trimmed))
        elif op == "-":
            old.append(("-", text))
        else:
            new.append(("+", text))
    return old, new


def _cite(pair_or_change: PairDigest | Change) -> str:
    o, n = pair_or_change.old, pair_or_change.new
    old = f"v{o.version} ({label_date(o.effective_time) or 'no date'})"
    new = f"v{n.version} ({label_date(n.effective_time) or 'no date'})"
    if o.set_id != n.set_id:
        return f"set {o.set_id} {old} → set {n.set_id} {new}"
    return f"set {n.set_id}: {old} → {new}"


def _label_name(pair: PairDigest) -> str:
    title = pair.title or pair.drug
    return title if pair.drug.lower() in title.lower() else f"{title} ({pair.drug})"


def _clip(text: str, limit: int = 700) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


# ---- Markdown --------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_").replace("`", "\\`").replace("<", "&lt;")


def _md_runs(runs: list[tuple[str, str]]) -> str:
    out = []
    for op, text in runs:
        t = _md_escape(_clip(text.strip(), 900))
        if not t:
            continue
        out.append(t if op == "=" else (f"~~{t}~~" if op == "-" else f"**{t}**"))
    return " ".join(out)


def _pairs_by_rank(group: LabelSummary) -> list[PairDigest]:
    """A label's updates, the one holding its most important change first."""
    return sorted(group.pairs, key=lambda p: min((c.rank for c in p.changes), default=1 << 30))


def changed_labels(digest: Digest) -> tuple[list[LabelSummary], int]:
    """Labels with at least one change to show, most important first; and how many changed only editorially."""
    groups = digest.labels
    shown = [g for g in groups if g.changes]
    return shown, len(groups) - len(shown)


def render_markdown(digest: Digest) -> str:
    """One line per label first (drug, versions and dates, its PGx changes), then the details."""
    s = digest.to_json()["summary"]
    labels, quiet = changed_labels(digest)
    lines = [
        "# FDA label changes",
        "",
        f"{len(labels)} label{'s' if len(labels) != 1 else ''} changed: {s['label_pairs']} label updates, "
        f"{s['changes']} changes ({s['pgx_changes']} pharmacogenomic), {s['editorial_folded']} editorial-only "
        f"sentence edits folded away. Generated {digest.generated_at}.",
        "",
    ]
    for n, group in enumerate(labels, start=1):
        lines.append(f"{n}. **{_md_escape(group.title)}** — {group.versions()} — {_md_escape(group.pgx_line())}; "
                     f"{sum(not c.pgx_relevant for c in group.changes)} other")
    if quiet:
        lines.append(f"\n{quiet} more label{'s' if quiet != 1 else ''} changed only editorially.")
    if digest.labels_with_one_version:
        lines.append(f"\nLabels with a single stored version (nothing to compare): {len(digest.labels_with_one_version)}.")
    lines += ["", "---", ""]
    for group in labels:
        lines += [f"## {_md_escape(group.title)}", "", f"{group.versions()} — {_md_escape(group.pgx_line())}", ""]
        for pair in _pairs_by_rank(group):
            lines += _md_pair(pair)
    for e in digest.errors:
        lines.append(f"> error: {_md_escape(e)}")
    return "\n".join(lines).rstrip() + "\n"


def _md_pair(pair: PairDigest) -> list[str]:
    shown, left = shown_changes(pair)
    if not shown:
        return []
    n_pgx = sum(c.pgx_relevant for c in pair.changes)
    lines = [f"### {_cite(pair)}", "",
             f"{n_pgx} PGx change{'s' if n_pgx != 1 else ''}, {len(pair.changes) - n_pgx} other, "
             f"{pair.editorial_folded} editorial folded" + (" · **new set id**" if pair.set_changed else ""), ""]
    if pair.triples_added or pair.triples_removed:
        lines.append("Triples: " + "; ".join([*(f"+ {t.label()}" for t in pair.triples_added[:6]),
                                             *(f"− {t.label()}" for t in pair.triples_removed[:6])]))
        lines.append("")
    for c in shown:
        flag = (" · **PGx**" + (" (tumour biomarker)" if c.origin == "somatic" else "")) if c.pgx_relevant else ""
        scope = " section" if c.scope == "section" else ""
        table = " · table row" if c.table_row else ""
        lines.append(f"#### #{c.rank} {_md_escape(c.section)} — {c.kind}{scope}{table}{flag}")
        lines.append("")
        if c.pgx_reasons:
            lines.append("Why PGx: " + _md_escape("; ".join(c.pgx_reasons[:5])))
            lines.append("")
        old, new = side_runs(c)
        if old:
            lines.append(f"- Before (v{c.old.version}): {_md_runs(old)}")
        if new:
            lines.append(f"- After (v{c.new.version}): {_md_runs(new)}")
        lines.append("")
    if left:
        lines += [f"… and {left} more ordinary change{'s' if left != 1 else ''} (see the JSON or HTML digest).", ""]
    return lines


# ---- HTML ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _template():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("pgxlit.digest", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("digest.html.j2")


def _pair_view(pair: PairDigest) -> dict[str, Any] | None:
    shown, left = shown_changes(pair)
    if not shown:
        return None
    items = []
    for c in shown:
        old, new = side_runs(c)
        items.append({"c": c, "old": old, "new": new, "tier": TIERS[c.tier]})
    return {"p": pair, "name": _label_name(pair), "cite": _cite(pair), "shown": items, "left": left,
            "pgx": sum(c.pgx_relevant for c in pair.changes), "anchor": f"{pair.new.set_id}-{pair.new.version}",
            "old_date": label_date(pair.old.effective_time), "new_date": label_date(pair.new.effective_time),
            "url": DAILYMED_SETID_URL.format(set_id=pair.new.set_id)}


def _view(digest: Digest) -> dict[str, Any]:
    labels, quiet = changed_labels(digest)
    groups = []
    for group in labels:
        pairs = [v for p in _pairs_by_rank(group) if (v := _pair_view(p)) is not None]
        groups.append({"g": group, "pairs": pairs, "pgx": sum(c.pgx_relevant for c in group.changes),
                       "other": sum(not c.pgx_relevant for c in group.changes),
                       "url": DAILYMED_SETID_URL.format(set_id=group.pairs[-1].new.set_id)})
    return {"d": digest, "s": digest.to_json()["summary"], "labels": groups, "quiet": quiet}


def render_html(digest: Digest) -> str:
    return _template().render(**_view(digest))


# ---- Atom ------------------------------------------------------------------------------------------
ATOM_NS = "http://www.w3.org/2005/Atom"


def _atom_time(effective_time: str | None, fallback: str) -> str:
    date = label_date(effective_time)
    return f"{date}T00:00:00Z" if date and len(date) == 10 else fallback


def _entry_html(pair: PairDigest) -> str:
    shown, left = shown_changes(pair, other_limit=3)
    parts = [f"<p>{html.escape(_cite(pair))}</p><ol>"]
    for c in shown[:12]:
        flag = " <strong>PGx</strong>" if c.pgx_relevant else ""
        parts.append(f"<li>#{c.rank} {html.escape(c.section)} — {c.kind}{flag}")
        if c.old_text:
            parts.append(f"<br><del>{html.escape(_clip(c.old_text, 400))}</del>")
        if c.new_text:
            parts.append(f"<br><ins>{html.escape(_clip(c.new_text, 400))}</ins>")
        parts.append("</li>")
    parts.append("</ol>")
    more = len(pair.changes) - min(len(shown), 12)
    if more > 0:
        parts.append(f"<p>… and {more} more change{'s' if more != 1 else ''}.</p>")
    return "".join(parts)


def render_atom(digest: Digest, feed_id: str = "urn:pgxlit:digest") -> str:
    """One entry per label update; entry ids are stable, so feed readers show each update once."""
    ET.register_namespace("", ATOM_NS)
    q = lambda tag: f"{{{ATOM_NS}}}{tag}"  # noqa: E731
    generated = digest.generated_at.replace("+00:00", "Z")
    feed = ET.Element(q("feed"))
    ET.SubElement(feed, q("id")).text = feed_id
    ET.SubElement(feed, q("title")).text = "pgxlit: FDA label changes, pharmacogenomic first"
    ET.SubElement(feed, q("updated")).text = generated
    author = ET.SubElement(feed, q("author"))
    ET.SubElement(author, q("name")).text = "pgxlit"
    ET.SubElement(feed, q("generator")).text = "pgxlit digest"
    for pair in digest.pairs:
        if not pair.changes:
            continue
        n_pgx = sum(c.pgx_relevant for c in pair.changes)
        entry = ET.SubElement(feed, q("entry"))
        ET.SubElement(entry, q("id")).text = (f"urn:pgxlit:label-change:{pair.old.set_id}:{pair.old.version}:"
                                              f"{pair.new.set_id}:{pair.new.version}")
        ET.SubElement(entry, q("title")).text = (f"{_label_name(pair)}: v{pair.old.version} → v{pair.new.version}, "
                                                 f"{n_pgx} PGx / {len(pair.changes)} changes")
        ET.SubElement(entry, q("updated")).text = _atom_time(pair.new.effective_time, generated)
        ET.SubElement(entry, q("link"), href=DAILYMED_SETID_URL.format(set_id=pair.new.set_id))
        if n_pgx:
            ET.SubElement(entry, q("category"), term="pharmacogenomics")
        ET.SubElement(entry, q("summary")).text = _cite(pair)
        content = ET.SubElement(entry, q("content"), type="html")
        content.text = _entry_html(pair)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
