"""GPT-2's byte → printable code point mapping: the 256 byte tokens of a byte-level BPE vocabulary.
Standard library only, shared by the synthetic-model writers of the interop and CLI tests."""


def byte_level_tokens():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]
