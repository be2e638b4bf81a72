#!/usr/bin/env python3
"""Where the marginal instructions go: the difference of two
callgrind_annotate --inclusive=no listings (run 2 minus run 1), per row.

    icount_profile.py ROWS RUN1.txt RUN2.txt

Prints the top 25 functions by marginal self cost per row, with their share
of the marginal total.
"""
import re
import sys

LINE = re.compile(r'^\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(\S.*?)\s*(?:\[[^\]]*\])?\s*$')


def listing(path):
    """Self cost by function name ("file:function") of one annotate listing."""
    costs = {}
    total = None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if '=>' in line:
                continue
            m = LINE.match(line)
            if not m:
                continue
            n = int(m.group(1).replace(',', ''))
            name = m.group(2)
            if name.startswith('PROGRAM TOTALS'):
                total = n
            elif ':' in name and not name.startswith('Ir'):
                # file:function; the file part differs only for ??? entries
                fn = re.sub(r"'\d+$", '', name.split(':', 1)[1])
                costs[fn] = costs.get(fn, 0) + n
    return total, costs


def main():
    rows = int(sys.argv[1])
    t1, c1 = listing(sys.argv[2])
    t2, c2 = listing(sys.argv[3])
    marginal = (t2 - t1) / rows
    diff = {k: (c2.get(k, 0) - c1.get(k, 0)) / rows for k in set(c1) | set(c2)}
    print(f'{marginal:12,.0f}  instructions per row in all')
    for name, n in sorted(diff.items(), key=lambda kv: -kv[1])[:25]:
        print(f'{n:12,.0f}  {100 * n / marginal:5.1f}%  {name}')


main()
