"""Account-table column names as platforms and scraping tools spell them, mapped to kolgraph's.

One alias table serves every reader of account profiles (``kolgraph score-accounts``,
``kolgraph ingest --accounts``, :func:`kolgraph.score_accounts`). Names are matched
case- and separator-insensitively: ``followerCount``, ``follower_count`` and
``Followers Count`` are all ``followers``. A column whose name already is canonical
is kept as it is and wins over an alias for the same canonical column.

Some sources need a small conversion, not just a new name:

- ``default_profile_image`` (Twitter/X) is the *absence* of a picture: negated into
  ``has_avatar``;
- ``profile_pic_url`` (Instagram), ``profile_image_url`` (Twitter) and ``avatar*``
  (TikTok) are URLs: a non-empty URL counts as a picture. A URL of the platform's
  default avatar cannot be told from a real one by its text, so such accounts count as
  having a picture (Twitter's ``default_profile_image`` flag is the reliable column);
- ``url`` / ``external_url`` / ``bioLink`` holding a URL become ``external_url`` = non-empty.

:func:`resolve_columns` decides the mapping from the header alone (plus explicit
``source=canonical`` pairs, which win); :func:`apply_columns` renames and converts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError

# canonical account columns -> what they hold (the canonical names are also accepted as aliases)
CANONICAL: dict[str, str] = {
    "id": "account id",
    "followers": "follower count",
    "following": "followee count (accounts it follows)",
    "posts": "posts / statuses / videos published",
    "has_avatar": "has a profile picture (true/false)",
    "private": "private / protected account (true/false)",
    "verified": "verified badge (true/false)",
    "username": "handle (raw text)",
    "full_name": "display name (raw text)",
    "bio": "biography / description (raw text)",
    "created_at": "account creation time",
    "external_url": "has a link in the profile (true/false)",
    "username_digits": "digits in the username (count)",
    "username_length": "characters in the username (count)",
    "username_digit_ratio": "digits / length of the username",
    "bio_length": "characters in the bio (count)",
    "name_equals_username": "display name equals the username (true/false)",
    "fullname_words": "words in the display name (count)",
    "country": "country",
    "language": "language",
}

_BOOL_WORDS = {"0", "1", "true", "false", "t", "f", "yes", "no", "y", "n"}

# how a source column becomes its canonical column
RENAME, NEGATE, NONEMPTY = "rename", "negate", "non-empty"

# alias (any spelling) -> (canonical, conversion). Order matters only for conflicts: when two
# aliases of one canonical column are both present, the one listed first is used.
_ALIASES: list[tuple[str, str, str]] = [
    # ids
    ("pk", "id", RENAME), ("id_str", "id", RENAME), ("user_id", "id", RENAME),
    ("author_id", "id", RENAME), ("account_id", "id", RENAME),
    # followers: Instagram, Twitter/X, TikTok, Instagram GraphQL, generic scrapers
    ("follower_count", "followers", RENAME), ("followers_count", "followers", RENAME),
    ("edge_followed_by", "followers", RENAME), ("edge_followed_by_count", "followers", RENAME),
    ("edge_followed_by.count", "followers", RENAME), ("fans", "followers", RENAME),
    ("num_followers", "followers", RENAME), ("#followers", "followers", RENAME),
    # following
    ("following_count", "following", RENAME), ("friends_count", "following", RENAME),
    ("followings_count", "following", RENAME), ("follows_count", "following", RENAME),
    ("edge_follow", "following", RENAME), ("edge_follow_count", "following", RENAME),
    ("edge_follow.count", "following", RENAME), ("num_following", "following", RENAME),
    ("#follows", "following", RENAME), ("follows", "following", RENAME),
    # posts
    ("media_count", "posts", RENAME), ("statuses_count", "posts", RENAME),
    ("video_count", "posts", RENAME), ("posts_count", "posts", RENAME),
    ("tweet_count", "posts", RENAME), ("edge_owner_to_timeline_media", "posts", RENAME),
    ("edge_owner_to_timeline_media_count", "posts", RENAME), ("#posts", "posts", RENAME),
    ("num_posts", "posts", RENAME),
    # profile picture
    ("has_profile_pic", "has_avatar", RENAME), ("has_profile_picture", "has_avatar", RENAME),
    ("has_anonymous_profile_picture", "has_avatar", NEGATE),
    ("default_profile_image", "has_avatar", NEGATE),
    ("profile pic", "has_avatar", RENAME),
    ("profile_pic_url", "has_avatar", NONEMPTY), ("profile_pic_url_hd", "has_avatar", NONEMPTY),
    ("profile_image_url", "has_avatar", NONEMPTY), ("profile_image_url_https", "has_avatar", NONEMPTY),
    ("avatar_thumb", "has_avatar", NONEMPTY), ("avatar_larger", "has_avatar", NONEMPTY),
    ("avatar_medium", "has_avatar", NONEMPTY), ("avatar", "has_avatar", NONEMPTY),
    # private / verified
    ("is_private", "private", RENAME), ("protected", "private", RENAME),
    ("private_account", "private", RENAME), ("is_protected", "private", RENAME),
    ("is_verified", "verified", RENAME), ("blue_verified", "verified", RENAME),
    # text
    ("screen_name", "username", RENAME), ("unique_id", "username", RENAME),
    ("user_name", "username", RENAME), ("handle", "username", RENAME),
    ("full_name", "full_name", RENAME), ("fullname", "full_name", RENAME),
    ("nickname", "full_name", RENAME), ("display_name", "full_name", RENAME),
    ("name", "full_name", RENAME),
    ("biography", "bio", RENAME), ("description", "bio", RENAME), ("signature", "bio", RENAME),
    # time
    ("create_time", "created_at", RENAME), ("created", "created_at", RENAME),
    ("createtime", "created_at", RENAME),
    # links
    ("url", "external_url", NONEMPTY), ("bio_link", "external_url", NONEMPTY),
    ("external url", "external_url", RENAME),
    # derived counts (data sets that publish no raw text)
    ("nums/length username", "username_digit_ratio", RENAME),
    ("description length", "bio_length", RENAME), ("fullname words", "fullname_words", RENAME),
    ("name==username", "name_equals_username", RENAME),
    ("lang", "language", RENAME),
]


def _key(name: str) -> str:
    """Lower case, letters and digits only: the key names are compared by."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


_ALIAS_KEYS: dict[str, tuple[str, str, int]] = {}
for _rank, (_alias, _canon, _conv) in enumerate(_ALIASES):
    _ALIAS_KEYS.setdefault(_key(_alias), (_canon, _conv, _rank))
for _canon in CANONICAL:  # the canonical names themselves, in any spelling, rank first
    _ALIAS_KEYS[_key(_canon)] = (_canon, NONEMPTY if _canon == "external_url" else RENAME, -1)
_CANONICAL_KEYS = {_key(c): c for c in CANONICAL}


@dataclass
class ColumnMapping:
    """What :func:`resolve_columns` decided: source column -> canonical column (and how)."""

    columns: dict[str, str] = field(default_factory=dict)       # source -> canonical
    conversions: dict[str, str] = field(default_factory=dict)   # source -> negate / non-empty
    unused: list[str] = field(default_factory=list)             # source columns mapped to nothing
    shadowed: dict[str, str] = field(default_factory=dict)      # source -> canonical it lost to

    def renamed(self) -> dict[str, str]:
        """Only the sources whose name changed (the 'mapping applied' to report)."""
        return {s: c for s, c in self.columns.items() if s != c}

    def to_dict(self) -> dict:
        return {"columns": self.renamed(), "conversions": dict(self.conversions),
                "unused_columns": list(self.unused), "shadowed": dict(self.shadowed)}


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"src=canonical,src2=canonical2"`` (the ``--columns`` flag) as a dict."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        src, eq, dst = part.partition("=")
        if not eq or not src.strip() or not dst.strip():
            raise InputError(f"--columns: {part.strip()!r} is not SOURCE=CANONICAL "
                             f"(e.g. --columns 'Fans=followers,Handle=username')")
        out[src.strip()] = dst.strip()
    return out


def resolve_columns(names, explicit: dict[str, str] | None = None, *, where: str = "accounts"
                    ) -> ColumnMapping:
    """Map the source ``names`` to canonical columns: ``explicit`` pairs first, then aliases.

    Raises InputError when an explicit pair names a source column that is not in ``names``
    or a canonical column that does not exist (the message lists the canonical names).
    """
    names = [str(n) for n in names]
    explicit = dict(explicit or {})
    out = ColumnMapping()
    taken: dict[str, tuple[int, str]] = {}  # canonical -> (rank, source)
    for src, dst in explicit.items():
        if src not in names:
            raise InputError(f"{where}: the column mapping (--columns) names {src!r}, which the table does not have "
                             f"(columns: {', '.join(names)})")
        canon = _CANONICAL_KEYS.get(_key(dst))
        if canon is None:
            raise InputError(f"{where}: the column mapping (--columns) maps {src!r} to {dst!r}, which is not a canonical "
                             f"account column (canonical: {', '.join(CANONICAL)})")
        if canon in taken:
            raise InputError(f"{where}: the column mapping (--columns) maps both {taken[canon][1]!r} and {src!r} to {canon!r}")
        taken[canon] = (-2, src)
    for src in names:
        if src in explicit:
            continue
        hit = _ALIAS_KEYS.get(_key(src))
        if hit is None:
            out.unused.append(src)
            continue
        canon, _conv, rank = hit
        if canon in taken and taken[canon][0] <= rank:
            out.shadowed[src] = canon
            continue
        if canon in taken:
            out.shadowed[taken[canon][1]] = canon
        taken[canon] = (rank, src)
    for canon, (_rank, src) in taken.items():
        out.columns[src] = canon
        conv = RENAME if src in explicit else _ALIAS_KEYS[_key(src)][1]
        if conv != RENAME:
            out.conversions[src] = conv
    out.columns = {s: out.columns[s] for s in names if s in out.columns}  # header order
    return out


def apply_columns(table: pa.Table, explicit: dict[str, str] | None = None, *, where: str = "accounts"
                  ) -> tuple[pa.Table, ColumnMapping]:
    """``table`` with its columns renamed (and converted) to canonical ones; unmapped columns
    are kept under their own names, shadowed aliases are dropped."""
    mapping = resolve_columns(table.column_names, explicit, where=where)
    cols, names = [], []
    for src in table.column_names:
        if src in mapping.shadowed:
            continue
        col = table.column(src)
        if src in mapping.columns:
            conv = mapping.conversions.get(src, RENAME)
            if conv == NONEMPTY:
                col = _nonempty(col)
            elif conv == NEGATE:
                col = _negated(col, src, where)
            names.append(mapping.columns[src])
        else:
            names.append(src)
        cols.append(col)
    return pa.table(dict(zip(names, cols, strict=True))), mapping


def _nonempty(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A URL column as has-one (non-empty); a column that already is true/false (or 1/0) as it is."""
    if pa.types.is_null(col.type):
        return col.cast(pa.bool_())
    if pa.types.is_boolean(col.type) or pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col
    text = pc.utf8_trim_whitespace(col.cast(pa.string()))
    low = pc.utf8_lower(text)
    if col.null_count < len(col) and pc.all(
            pc.or_(pc.is_null(low), pc.is_in(low, value_set=pa.array(sorted(_BOOL_WORDS))))).as_py():
        return col  # true/false text: coerced like any boolean column later
    empty = pc.or_(pc.equal(text, ""), pc.is_in(pc.utf8_lower(text), value_set=pa.array(["null", "none", "nan"])))
    return pc.if_else(pc.is_valid(col), pc.invert(empty), pa.scalar(None, pa.bool_()))


def _negated(col: pa.ChunkedArray, src: str, where: str) -> pa.ChunkedArray:
    from kolgraph.tables import coerce_column  # same-or-lower layer: tables

    return pc.invert(coerce_column(col, pa.bool_(), src, where))
