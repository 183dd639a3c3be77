# Flattens one JSON document into lines "PATH<TAB>VALUE", one per scalar.
#
#   {"hostname": "vm1", "public_keys": {"mykey": "ssh-rsa AAAA... me\n"}, "n": [1, 2]}
#   ->  hostname	vm1
#       public_keys/mykey	ssh-rsa AAAA... me
#       n/0	1
#       n/1	2
#
# The guest has only busybox, and meta_data.json comes from Python's json.dumps
# (ASCII only, \uXXXX for the rest), so a small recursive-descent parser is enough
# and, unlike sed patterns, copes with nesting and escaped quotes. String escapes are
# decoded; tabs and newlines inside values become spaces and surrounding whitespace
# is trimmed so that every value stays on its own line (public keys often end in
# "\n"). Object keys are joined with "/"; array elements are numbered from 0.
# Exit status 1 (and a message on stderr) for a document that is not valid JSON.

BEGIN { HEX = "0123456789abcdef" }

{ doc = doc $0 "\n" }

END {
    s = doc; n = length(s); pos = 1; failed = 0
    parse_value("")
    skip_space()
    if (!failed && pos <= n) fail("trailing data")
    exit failed
}

function fail(msg) {
    if (!failed) printf "json.awk: %s at offset %d\n", msg, pos > "/dev/stderr"
    failed = 1
    pos = n + 1     # stops every loop below
}

function skip_space() {
    while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++
}

function join(path, key) { return path == "" ? key : path "/" key }

function emit(path, value) {
    if (failed) return
    gsub(/[\t\r\n]/, " ", value)
    sub(/^ +/, "", value)
    sub(/ +$/, "", value)
    print path "\t" value
}

function parse_value(path,    c) {
    skip_space()
    c = substr(s, pos, 1)
    if (c == "{") parse_object(path)
    else if (c == "[") parse_array(path)
    else if (c == "\"") emit(path, parse_string())
    else parse_literal(path)
}

function parse_object(path,    key, c) {
    pos++
    skip_space()
    if (substr(s, pos, 1) == "}") { pos++; return }
    while (pos <= n) {
        skip_space()
        if (substr(s, pos, 1) != "\"") { fail("object key expected"); return }
        key = parse_string()
        skip_space()
        if (substr(s, pos, 1) != ":") { fail("':' expected"); return }
        pos++
        parse_value(join(path, key))
        skip_space()
        c = substr(s, pos, 1); pos++
        if (c == "}") return
        if (c != ",") { fail("',' or '}' expected"); return }
    }
    fail("unterminated object")
}

function parse_array(path,    i, c) {
    pos++
    skip_space()
    if (substr(s, pos, 1) == "]") { pos++; return }
    for (i = 0; pos <= n; i++) {
        parse_value(join(path, i))
        skip_space()
        c = substr(s, pos, 1); pos++
        if (c == "]") return
        if (c != ",") { fail("',' or ']' expected"); return }
    }
    fail("unterminated array")
}

# Numbers, true, false, null: printed as written.
function parse_literal(path,    start) {
    start = pos
    while (pos <= n && index("+-.0123456789Eeabcdeflnrstu", substr(s, pos, 1))) pos++
    if (pos == start) { fail("value expected"); return }
    emit(path, substr(s, start, pos - start))
}

# Called with pos on the opening quote; returns the decoded string.
function parse_string(    out, c, e) {
    pos++
    out = ""
    while (pos <= n) {
        c = substr(s, pos, 1)
        if (c == "\"") { pos++; return out }
        if (c != "\\") { out = out c; pos++; continue }
        e = substr(s, pos + 1, 1)
        pos += 2
        if (e == "n" || e == "t" || e == "r" || e == "b" || e == "f") out = out " "
        else if (e == "u") { out = out utf8(hex(substr(s, pos, 4))); pos += 4 }
        else out = out e        # \" \\ \/
    }
    fail("unterminated string")
    return out
}

function hex(digits,    i, v, d) {
    v = 0
    for (i = 1; i <= length(digits); i++) {
        d = index(HEX, tolower(substr(digits, i, 1)))
        if (!d) { fail("bad \\u escape"); return 63 }
        v = v * 16 + d - 1
    }
    return v
}

# UTF-8 bytes of a code point from the Basic Multilingual Plane (surrogate pairs,
# i.e. emoji in a server name, come out as two replacement sequences: harmless here).
function utf8(cp) {
    if (cp < 32) return " "
    if (cp < 128) return sprintf("%c", cp)
    if (cp < 2048) return sprintf("%c%c", 192 + int(cp / 64), 128 + cp % 64)
    return sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
}
