"""Attribute tables of a synthetic graph (:mod:`kolgraph.synth`): the vocabulary (categories,
platforms, countries, handle and bio words) and the accounts and creators tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.kernels import synth as _k
from kolgraph.kernels import synth_strings as _ks

CATEGORIES = ("beauty", "gaming", "fitness", "food", "travel", "tech", "fashion", "music",
              "parenting", "finance", "sports", "comedy")
CAT_SHARE = np.array([11, 11, 8, 10, 7, 7, 10, 10, 5, 5, 8, 8], dtype=np.float64)
CAT_REACH = np.array([1.0, 1.2, 0.9, 1.0, 0.9, 0.9, 1.0, 1.5, 0.6, 0.7, 1.1, 1.4])
CAT_PRICE = np.array([1.2, 0.9, 1.0, 1.0, 1.1, 1.4, 1.2, 0.9, 1.1, 1.6, 1.0, 0.8])

PLATFORMS = ("instagram", "tiktok", "youtube", "x")
PLAT_SHARE = np.array([0.45, 0.30, 0.18, 0.07])
PLAT_VIEW_RATE = np.array([0.08, 0.20, 0.12, 0.04])
PLAT_PRICE = np.array([1.0, 0.8, 1.6, 0.6])

COUNTRIES = ("US", "IN", "BR", "ID", "MX", "GB", "PH", "TR", "DE", "FR", "JP", "KR", "ES", "IT",
             "NG", "CA", "VN")
COUNTRY_SHARE = np.array([20, 12, 10, 8, 6, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3], dtype=np.float64)
_LANGUAGES = ("en", "hi", "pt", "id", "es", "tr", "de", "fr", "ja", "ko", "it", "vi", "tl")
_LANG_OF_COUNTRY = np.array([0, 1, 2, 3, 4, 0, 12, 5, 6, 7, 8, 9, 4, 10, 0, 0, 11], dtype=np.uint8)

_HANDLE_WORDS = (
    ("beauty", "glow", "makeup", "skin"), ("plays", "gaming", "gg", "tv"),
    ("fit", "lifts", "yoga", "runs"), ("eats", "kitchen", "cooks", "bakes"),
    ("travels", "wanders", "abroad", "trips"), ("tech", "codes", "gadgets", "dev"),
    ("style", "wears", "fashion", "looks"), ("music", "beats", "sings", "dj"),
    ("mom", "dad", "family", "kids"), ("money", "invests", "finance", "cash"),
    ("sports", "hoops", "goals", "fc"), ("lol", "funny", "jokes", "comedy"),
)
_BIO_WORDS = (
    ("skincare addict", "makeup artist", "💄", "glow up", "clean beauty", "MUA", "nail art"),
    ("gamer", "streamer", "🎮", "fps", "speedruns", "esports", "retro games"),
    ("gym rat", "personal trainer", "💪", "marathoner", "yoga teacher", "macros", "home workouts"),
    ("foodie", "home cook", "🍜", "recipes", "baker", "street food", "vegan eats"),
    ("wanderlust", "travel blogger", "✈️", "backpacker", "40 countries", "digital nomad", "road trips"),
    ("tech reviews", "developer", "💻", "gadgets", "AI", "open source", "unboxings"),
    ("ootd", "stylist", "👗", "thrifted", "streetwear", "vintage", "fashion week"),
    ("musician", "producer", "🎵", "singer", "guitar", "vinyl", "live shows"),
    ("mom of 3", "dad life", "👶", "parenting tips", "homeschool", "twin mama", "family first"),
    ("investing", "personal finance", "📈", "crypto", "FIRE", "budgeting", "stocks"),
    ("sports fan", "athlete", "⚽", "basketball", "coach", "game day", "fantasy league"),
    ("comedian", "memes", "😂", "sketches", "stand-up", "just jokes", "improv"),
)
_BIO_GENERIC = ("coffee lover", "dog mom", "cat person", "student", "she/her", "he/him", "they/them",
                "living my best life", "dreamer", "nurse", "teacher", "photographer", "bookworm",
                "plant parent", "good vibes only", "faith", "hustle", "sunsets", "est. 1995",
                "lifelong learner", "engineer", "proud auntie")
_BIO_EMOJI = ("✨", "🌿", "🌸", "🔥", "💫", "🌍", "☕", "📸", "🎧", "❤️", "🙏", "🌙")
_BIO_CONTACT = ("📩 collabs via DM", "business inquiries ⬇️", "bookings: see email",
                "🔗 links below", "new video every week", "management: DM")
_BIO_SPAM = ("follow back 💯", "dm for promo", "earn $500/day", "crypto signals", "f4f",
             "link in bio 🔥", "giveaway winner", "100% real followers")
_BIO_SEPARATORS = (" ", " ", " | ", " · ", " • ", " ✨ ")


def _bank(groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token bank for the string kernels: UTF-8 bytes, token offsets, group pointers."""
    tokens = [t.encode("utf-8") for g in groups for t in g]
    tok_off = np.concatenate([[0], np.cumsum([len(t) for t in tokens])]).astype(np.int64)
    group_ptr = np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)
    return np.frombuffer(b"".join(tokens), dtype=np.uint8).copy(), tok_off, group_ptr


def _string_column(offsets: np.ndarray, data: np.ndarray) -> pa.ChunkedArray:
    """A ``string`` column from offsets + UTF-8 bytes (chunked below 2 GiB per chunk)."""
    n = len(offsets) - 1
    limit = 2**31 - 1
    if offsets[-1] <= limit:
        arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
        return pa.chunked_array([arr], pa.string())
    large = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    chunks, start = [], 0
    while start < n:
        stop = int(np.searchsorted(offsets, offsets[start] + limit, side="right")) - 1
        stop = max(stop, start + 1)
        chunks.append(large.slice(start, stop - start).cast(pa.string()))
        start = stop
    return pa.chunked_array(chunks, pa.string())


def accounts_table(plan, role, cat1, cat2, country, created, in_indptr, out_indptr, as_of: int,
                   chunk: int) -> pa.Table:
    """The account attributes of every account (``plan``: the generator's plan, for its seeds)."""
    posts, followers, following, avatar, verified, private = _k.account_numbers(
        role, created, in_indptr, out_indptr, as_of, plan.seeds(10), chunk)
    hb, ho, hg = _bank(_HANDLE_WORDS)
    off, data = _ks.strings(0, role, cat1, cat2, hb, ho, hg, len(CATEGORIES), plan.seeds(11), chunk)
    off, data, _ = _ks.dedupe_strings(off, data, plan.seeds(12, 1)[0])
    usernames = _string_column(off, data)
    del off, data
    bb, bo, bg = _bank(list(_BIO_WORDS) + [_BIO_GENERIC, _BIO_EMOJI, _BIO_CONTACT, _BIO_SPAM,
                                           _BIO_SEPARATORS])
    off, data = _ks.strings(1, role, cat1, cat2, bb, bo, bg, len(CATEGORIES), plan.seeds(13), chunk)
    bios = _string_column(off, data)
    del off, data
    known = country != _k.NO_COUNTRY
    lang = np.where(known, _LANG_OF_COUNTRY[np.where(known, country, 0)], 0).astype(np.int32)
    rng = plan.rng(14)
    lang[rng.random(len(lang), dtype=np.float32) < 0.12] = 0           # English as a second language
    country_idx = pa.array(country.astype(np.int32), mask=~known)
    return pa.table({
        "created_at": pa.array(created, pa.timestamp("s", tz="UTC")),
        "posts": pa.array(posts),
        "followers": pa.array(followers),
        "following": pa.array(following),
        "has_avatar": pa.array(avatar),
        "username": usernames,
        "bio": bios,
        "verified": pa.array(verified),
        "private": pa.array(private),
        "country": pa.array(COUNTRIES, pa.string()).take(country_idx),
        "language": pa.array(_LANGUAGES, pa.string()).take(pa.array(lang)),
    })


def creators_table(plan, cr: dict, usernames: pa.ChunkedArray, in_indptr, in_indices, farm_of
                   ) -> pa.Table:
    """The creator table: ids, names, platform, category, price and average views."""
    c = plan.c
    rng = plan.rng(15)
    followers = np.diff(in_indptr[: c + 1]).astype(np.float64)
    fake = _k.count_flagged_followers(in_indptr, in_indices, farm_of, c)
    real = followers - fake
    platform, category = cr["platform"], cr["category"]
    rate = (PLAT_VIEW_RATE[platform] * (np.maximum(followers, 1.0) / 10_000) ** -0.15
            * np.exp(0.35 * rng.standard_normal(c)))
    avg_views = np.rint(np.clip(rate, 0.005, 0.8) * real)
    price = np.maximum(25.0, np.rint(15.0 * (followers / 1_000) ** 0.85 * CAT_PRICE[category]
                                     * PLAT_PRICE[platform] * np.exp(0.35 * rng.standard_normal(c))))
    names = usernames.slice(0, c)
    names = pc.utf8_trim_whitespace(pc.utf8_title(pc.replace_substring_regex(names, r"[._0-9]+", " ")))
    ids = np.arange(c, dtype=np.int64)
    return pa.table({
        "id": pa.array(ids),
        "idx": pa.array(ids.astype(np.int32)),
        "name": names,
        "platform": pa.array(PLATFORMS, pa.string()).take(pa.array(platform.astype(np.int32))),
        "category": pa.array(CATEGORIES, pa.string()).take(pa.array(category.astype(np.int32))),
        "price": pa.array(price),
        "avg_views": pa.array(avg_views),
    })
