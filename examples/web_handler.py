"""A web handler's cache: rendered pages kept for a few seconds (ttl), and the slow lookup
behind them memoized for longer, so an expired page is re-rendered without a new query.

    .venv/bin/python examples/web_handler.py
"""

from __future__ import annotations

import time

from tiercache import TierCache

PAGE_TTL = 1.0  # seconds a rendered page is served from the cache
queries = 0  # how often the "database" was asked


def make_handler(cache: TierCache):
    @cache.memoize(ttl=60)
    def load_user(user_id: int) -> dict:
        """The slow part, as a database query would be: once per user per minute."""
        global queries
        queries += 1
        time.sleep(0.01)
        return {"id": user_id, "name": f"user-{user_id}"}

    def handle(path: str) -> tuple[int, bytes, str]:
        """GET /user/<id>: status, body, and where the body came from."""
        body = cache.get(("page", path))
        if body is not None:
            return 200, body, "page cache"
        user = load_user(int(path.rsplit("/", 1)[1]))
        body = f"<h1>{user['name']}</h1>".encode()
        cache.set(("page", path), body, ttl=PAGE_TTL)
        return 200, body, "rendered"

    return handle, load_user


def main() -> None:
    with TierCache(dram_mb=8) as cache:
        handle, load_user = make_handler(cache)
        for path in ["/user/1", "/user/1", "/user/2", "/user/1"]:
            status, body, source = handle(path)
            print(f"GET {path} -> {status} {body.decode()} ({source})")
        print(f"ttl left on /user/1's page: {cache.ttl(('page', '/user/1')):.1f} s")
        time.sleep(PAGE_TTL + 0.2)  # the pages expire; the memoized users do not
        status, body, source = handle("/user/1")
        print(f"after {PAGE_TTL:g} s: GET /user/1 -> {status} {body.decode()} ({source})")
        info = load_user.cache_info()
        print(f"database queries: {queries}; memoize hits {info.hits}, misses {info.misses}")


if __name__ == "__main__":
    main()
