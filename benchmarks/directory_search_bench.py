"""The agent's directory look-up (handoff.verification.search_directory) on a campus-sized directory: each
query returns at most 10 rows; this shows what that costs when the match needs a scan (a name or e-mail)
against an indexed prefix (a number).

    python benchmarks/directory_search_bench.py                  # 100,000 entries, SQLite in a temp dir
    python benchmarks/directory_search_bench.py --entries 20000

Prints one line per query: rows returned, whether there were more, and the best of 5 runs in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tortoise import Tortoise

from handoff.verification import search_directory
from models import ContactRole, DirectoryEntry

QUERIES = ("13599", "Nomor 9999", "m77@students", "%%%", "zzz-nobody")


async def main(entries: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await Tortoise.init(db_url=f"sqlite://{Path(folder) / 'directory.sqlite3'}", modules={"models": ["models"]})
        await Tortoise.generate_schemas()
        await DirectoryEntry.bulk_create(
            [DirectoryEntry(id_number=f"{13500000 + i}", name=f"Mahasiswa Nomor {i}",
                            email=f"m{i}@students.itb.ac.id", role=ContactRole.STUDENT) for i in range(entries)],
            batch_size=5000)
        for query in QUERIES:
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                hits = await search_directory(query)
                best = min(best, time.perf_counter() - start)
            print(f"{query!r}: {len(hits.entries)} rows, more={hits.more}, best {best * 1000:.1f} ms")
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().entries))
