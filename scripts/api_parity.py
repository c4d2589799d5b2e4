#!/usr/bin/env python3
"""Compares the public API of `staso` with and without its `enable` feature.

Reads rustdoc JSON (written by scripts/api_parity.sh) of `staso` in both builds and of the
crates it re-exports from (`staso_core`, `staso_types`), follows every `pub use` to the item
it names, and renders each public item as text: functions with their generics and
signature, structs and enums with their public fields/variants, inherent methods, trait
impls (auto traits such as Send/Sync included), traits with their methods, constants and
type aliases. Paths in types are shortened to their last segment, so `staso_core::Span`
and `staso::noop::Span` compare equal. Prints the differences and exits 1 when there are
any. The `testing` module exists only with `enable` and is skipped (documented in
README.md).
"""
import json
import sys

SKIP_MODULES = {"testing", "__private"}


def load(path):
    with open(path) as f:
        return json.load(f)


class Crates:
    """A crate's rustdoc JSON plus the JSON of the crates its re-exports point into."""

    def __init__(self, main, others):
        self.main = main
        self.by_name = {}
        for d in [main] + others:
            name = d["index"][str(d["root"])]["name"]
            self.by_name[name] = d

    def resolve(self, doc, item_id):
        """(doc, item) for an id of `doc`, following it into another crate if needed."""
        item = doc["index"].get(str(item_id))
        if item is not None:
            return doc, item
        p = doc["paths"].get(str(item_id))
        if p is None:
            return None, None
        target = self.by_name.get(p["path"][0])
        if target is None:
            return None, None
        for iid, q in target["paths"].items():
            if q["crate_id"] == 0 and q["path"] == p["path"] and iid in target["index"]:
                return target, target["index"][iid]
        # Items of private modules re-exported publicly: find by name and kind.
        for it in target["index"].values():
            if it.get("name") == p["path"][-1] and kind(it) == p["kind"]:
                return target, it
        return None, None


def kind(item):
    return next(iter(item["inner"].keys()))


def path_name(p):
    return p.split("::")[-1]


def ty(t):
    if t is None:
        return "()"
    (k, v), = t.items()
    if k == "resolved_path":
        return path_name(v["path"]) + gargs(v.get("args"))
    if k == "generic":
        return v
    if k == "primitive":
        return v
    if k == "borrowed_ref":
        lt = (v.get("lifetime") + " ") if v.get("lifetime") else ""
        return "&" + lt + ("mut " if v["is_mutable"] else "") + ty(v["type"])
    if k == "raw_pointer":
        return ("*mut " if v["is_mutable"] else "*const ") + ty(v["type"])
    if k == "tuple":
        return "(" + ", ".join(ty(x) for x in v) + ")"
    if k == "slice":
        return "[" + ty(v) + "]"
    if k == "array":
        return "[" + ty(v["type"]) + "; " + str(v["len"]) + "]"
    if k == "impl_trait":
        return "impl " + " + ".join(bound(b) for b in v)
    if k == "dyn_trait":
        s = " + ".join(poly(x) for x in v["traits"])
        if v.get("lifetime"):
            s += " + " + v["lifetime"]
        return "dyn " + s
    if k == "qualified_path":
        tr = path_name(v["trait"]["path"]) if v.get("trait") else ""
        return "<" + ty(v["self_type"]) + (" as " + tr if tr else "") + ">::" + v["name"]
    if k == "function_pointer":
        return "fn(" + ", ".join(ty(x[1]) for x in v["sig"]["inputs"]) + ") -> " + ty(v["sig"]["output"])
    return k + json.dumps(v, sort_keys=True)


def gargs(a):
    if not a:
        return ""
    (k, v), = a.items()
    if k == "angle_bracketed":
        parts = []
        for x in v.get("args", []):
            (ak, av), = x.items()
            parts.append(ty(av) if ak == "type" else (av if isinstance(av, str) else json.dumps(av)))
        for c in v.get("constraints", []):
            b = c["binding"]
            if "equality" in b:
                e = b["equality"]
                parts.append(c["name"] + " = " + (ty(e["type"]) if "type" in e else json.dumps(e)))
            else:
                parts.append(c["name"] + ": " + " + ".join(bound(x) for x in b["constraint"]))
        return "<" + ", ".join(parts) + ">" if parts else ""
    if k == "parenthesized":
        return "(" + ", ".join(ty(x) for x in v["inputs"]) + ") -> " + ty(v.get("output"))
    return ""


def poly(p):
    return path_name(p["trait"]["path"]) + gargs(p["trait"].get("args"))


def bound(b):
    (k, v), = b.items()
    if k == "trait_bound":
        m = "?" if v.get("modifier") == "maybe" else ""
        return m + path_name(v["trait"]["path"]) + gargs(v["trait"].get("args"))
    if k == "outlives":
        return v
    if k == "use":
        return "use<..>"
    return k


def generics(g):
    params = []
    for p in g.get("params", []):
        (k, v), = p["kind"].items()
        if k == "lifetime":
            params.append(p["name"])
        elif k == "type":
            if v.get("is_synthetic"):
                continue  # `impl Trait` arguments are shown in place
            bs = " + ".join(bound(b) for b in v.get("bounds", []))
            params.append(p["name"] + (": " + bs if bs else ""))
        elif k == "const":
            params.append("const " + p["name"] + ": " + ty(v["type"]))
    wh = []
    for w in g.get("where_predicates", []):
        (k, v), = w.items()
        if k == "bound_predicate":
            wh.append(ty(v["type"]) + ": " + " + ".join(bound(b) for b in v["bounds"]))
        else:
            wh.append(k)
    s = "<" + ", ".join(params) + ">" if params else ""
    if wh:
        s += " where " + ", ".join(sorted(wh))
    return s


def fn_sig(name, f):
    sig = f["sig"]
    ins = ", ".join(n + ": " + ty(t) for n, t in sig["inputs"])
    out = sig.get("output")
    h = f.get("header", {})
    pre = ("const " if h.get("is_const") else "") + ("async " if h.get("is_async") else "") + ("unsafe " if h.get("is_unsafe") else "")
    return pre + "fn " + name + generics(f["generics"]) + "(" + ins + ")" + (" -> " + ty(out) if out else "")


def render_impls(crates, doc, ids, out, prefix):
    for iid in ids:
        d2, imp = crates.resolve(doc, iid)
        if imp is None:
            continue
        i = imp["inner"]["impl"]
        if i.get("trait") is None:
            for mid in i["items"]:
                d3, m = crates.resolve(d2, mid)
                if m is None or m.get("visibility") != "public":
                    continue
                if kind(m) == "function":
                    out.append(prefix + "  " + fn_sig(m["name"], m["inner"]["function"]))
                elif kind(m) == "assoc_const":
                    out.append(prefix + "  const " + m["name"] + ": " + ty(m["inner"]["assoc_const"]["type"]))
        else:
            tr = path_name(i["trait"]["path"]) + gargs(i["trait"].get("args"))
            if i.get("blanket_impl") is not None:
                continue  # blanket impls (From<T>, Any, ...) come from std, identical in both
            neg = "!" if i.get("is_negative") else ""
            out.append(prefix + "  impl " + neg + tr + generics(i["generics"]))


def render(crates, doc, item, name, out, prefix=""):
    k = kind(item)
    v = item["inner"][k]
    if k == "function":
        out.append(prefix + fn_sig(name, v))
    elif k == "struct":
        line = prefix + "struct " + name + generics(v["generics"])
        sk = v["kind"]
        fields = []
        if isinstance(sk, dict) and "plain" in sk:
            for fid in sk["plain"]["fields"]:
                d2, f = crates.resolve(doc, fid)
                if f is not None and f.get("visibility") == "public":
                    fields.append(f["name"] + ": " + ty(f["inner"]["struct_field"]))
            if sk["plain"].get("has_stripped_fields"):
                fields.append("..")
        elif isinstance(sk, dict) and "tuple" in sk:
            if any(f is not None for f in sk["tuple"]):
                fields.append("(" + ", ".join("_" if f is None else "pub" for f in sk["tuple"]) + ")")
            else:
                fields.append("..")  # private fields: opaque either way
        if is_non_exhaustive(item):
            line = "#[non_exhaustive] " + line
        out.append(line + " { " + ", ".join(fields) + " }")
        render_impls(crates, doc, v.get("impls", []), out, prefix)
    elif k == "enum":
        vs = []
        for vid in v["variants"]:
            d2, var = crates.resolve(doc, vid)
            if var is not None:
                vs.append(var["name"])
        line = prefix + "enum " + name + generics(v["generics"]) + " { " + ", ".join(vs) + " }"
        if is_non_exhaustive(item):
            line = "#[non_exhaustive] " + line
        out.append(line)
        render_impls(crates, doc, v.get("impls", []), out, prefix)
    elif k == "trait":
        out.append(prefix + "trait " + name + generics(v["generics"]))
        for mid in v["items"]:
            d2, m = crates.resolve(doc, mid)
            if m is not None and kind(m) == "function":
                out.append(prefix + "  " + fn_sig(m["name"], m["inner"]["function"]))
    elif k == "constant":
        out.append(prefix + "const " + name + ": " + ty(v["type"]))
    elif k == "type_alias":
        out.append(prefix + "type " + name + generics(v["generics"]) + " = " + ty(v["type"]))
    elif k == "module":
        if name in SKIP_MODULES:
            return
        out.append(prefix + "mod " + name)
        for cid in v["items"]:
            walk(crates, doc, cid, out, prefix + name + "::")
    elif k == "proc_macro":
        out.append(prefix + "macro " + name)
    else:
        out.append(prefix + k + " " + name)


def is_non_exhaustive(item):
    return any("non_exhaustive" in json.dumps(a) for a in item.get("attrs", []))


def walk(crates, doc, item_id, out, prefix=""):
    d, item = crates.resolve(doc, item_id)
    if item is None:
        p = doc["paths"].get(str(item_id))
        out.append(prefix + "<unresolved " + (p["path"][-1] if p else str(item_id)) + ">")
        return
    if item.get("visibility") not in ("public", None) and kind(item) != "use":
        return
    if kind(item) == "use":
        u = item["inner"]["use"]
        if u.get("is_glob"):
            d2, target = crates.resolve(d, u["id"])
            if target is not None and kind(target) == "module":
                for cid in target["inner"]["module"]["items"]:
                    walk(crates, d2, cid, out, prefix)
            return
        d2, target = crates.resolve(d, u["id"])
        if target is None:
            p = d["paths"].get(str(u["id"]))
            if p and p["kind"] in ("proc_attribute", "proc_derive", "macro"):
                out.append(prefix + "macro " + u["name"])
            else:
                out.append(prefix + "<unresolved use " + u["source"] + ">")
            return
        render(crates, d2, target, u["name"], out, prefix)
        return
    if item.get("name") in SKIP_MODULES and kind(item) == "module":
        return
    render(crates, d, item, item["name"], out, prefix)


def api(main_path, other_paths):
    main = load(main_path)
    crates = Crates(main, [load(p) for p in other_paths])
    root = main["index"][str(main["root"])]
    out = []
    for cid in root["inner"]["module"]["items"]:
        walk(crates, main, cid, out)
    # One entry per top-level item, its nested lines kept with it, in sorted order.
    blocks, cur = [], None
    for line in out:
        if not line.startswith("  "):
            cur = [line]
            blocks.append(cur)
        else:
            cur.append(line)
    return {b[0]: sorted(b[1:]) for b in blocks}


def main():
    enabled = api(sys.argv[1], sys.argv[3:])
    disabled = api(sys.argv[2], sys.argv[3:])
    if "--dump" in sys.argv:
        for k in sorted(enabled):
            print(k)
            for l in enabled[k]:
                print(l)
        return 0
    problems = []
    for k in sorted(set(enabled) | set(disabled)):
        if k not in disabled:
            problems.append("only with `enable`:    " + k)
            continue
        if k not in enabled:
            problems.append("only without `enable`: " + k)
            continue
        a, b = set(enabled[k]), set(disabled[k])
        for l in sorted(a - b):
            problems.append(k + "\n    only with `enable`:    " + l.strip())
        for l in sorted(b - a):
            problems.append(k + "\n    only without `enable`: " + l.strip())
    if problems:
        print("The public API of `staso` differs between its builds:")
        for p in problems:
            print("  " + p)
        return 1
    print("api parity: %d public items, identical in both builds" % len(enabled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
