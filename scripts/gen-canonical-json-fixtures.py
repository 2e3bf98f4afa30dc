"""Regenerates test-fixtures/canonical-json.json from Python's json module (the reference).

Run: python3 scripts/gen-canonical-json-fixtures.py > test-fixtures/canonical-json.json
Each case is JSON source text; Python parses it and prints json.dumps(value, sort_keys=True), and
json.dumps(value, indent=2) (how the service writes a JSON file: keys in their order, repeats in the first place).
"""
import hashlib
import json

CASES = [
    '{}', '[]', '""', 'null', 'true', '0', '-0', '1', '1.0', '-1.5', '0.1', '1e-05', '1E-5', '0.0001',
    '1e16', '1e15', '1.5e300', '1e400', '-1e400', '1e-400', '-1e-400', '123456789012345678901234567890',
    '3.141592653589793', '2.5e-7', '100.0', '1e22', '12345678.9', '0.30000000000000004', '5e-324',
    '1.7976931348623157e308', '[1, 2.5, null, true]', 'NaN', 'Infinity', '-Infinity', '[NaN, -Infinity]',
    '{"b": 2, "a": 1}', '{"name": "café", "n": [1, 2.5, null, true]}',
    '{"z": {"y": [3, {"b": 1, "a": [true, false]}], "x": null}, "a": "A"}',
    '"\\u00e9\\u4e2d\\ud83d\\ude00"', '"😀 emoji 𝄞"', '"\\ud800 lone"', '"tab\\tnl\\ncr\\rq\\"bs\\\\sl\\/"',
    '"\\u0000\\u001f\\u007f\\u0080\\u00ff"', '"\\b\\f"', '{"\\uff61": 1, "😀": 2, "a": 3, "\\ud800": 4, "é": 5}',
    '{"a": 1, "a": 2}', '{"B": 1, "a": 2, "_": 3, "1": 4, "": 5}', '  {"spaced" : [ 1 , 2 ] }  ',
    '[[[[[]]]]]', '{"k": {"k": {"k": {}}}}', '"line\\u2028sep"', '-0.0', '[1E+2, 1e+2, 1.5E-10]',
    '{"b": 1, "a": 2, "b": {"z": 1, "y": 2}}', '{"\\u00e9": 1, "e": [], "\\ud83d\\ude00": {}, "\\uffff": 2}',
]



def random_documents(count, seed=20261123):
    """Random nested values written as JSON text in varied styles (unsorted keys, raw unicode)."""
    import random
    import struct
    rng = random.Random(seed)
    ranges = [(0x20, 0x7e), (0x00, 0x1f), (0x80, 0x7ff), (0x800, 0xd7ff), (0xe000, 0xfffd), (0x10000, 0x10ffff)]

    def string():
        chars = []
        for _ in range(rng.randint(0, 8)):
            lo, hi = rng.choice(ranges)
            chars.append(chr(rng.randint(lo, hi)))
        return ''.join(chars)

    def number():
        kind = rng.randint(0, 3)
        if kind == 0:
            return rng.randint(-10**20, 10**20)
        if kind == 1:
            x = struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
            return x if x == x and abs(x) != float('inf') else 0.5
        if kind == 2:
            return rng.uniform(-1e6, 1e6)
        return rng.randint(-1000, 1000) / 8.0

    def value(depth):
        kind = rng.randint(0, 6 if depth < 4 else 3)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind in (1, 2):
            return number()
        if kind == 3:
            return string()
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {string(): value(depth + 1) for _ in range(rng.randint(0, 5))}

    for _ in range(count):
        v = value(0)
        yield json.dumps(v, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]), allow_nan=False)


CASES += list(random_documents(400))

out = []
for text in CASES:
    canonical = json.dumps(json.loads(text), sort_keys=True)
    out.append({
        'input': text,
        'canonical': canonical,
        'indented': json.dumps(json.loads(text), indent=2),
        'hash': hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:16],
    })
print(json.dumps({'generated_by': 'scripts/gen-canonical-json-fixtures.py', 'cases': out}, indent=1, ensure_ascii=False))
