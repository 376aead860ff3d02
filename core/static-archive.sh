#!/bin/sh
# static-archive.sh OUT.a OBJECTS.a JSON_C.a LD OBJCOPY AR NM
#
# Makes the static libraiiaf.a: the library's objects and the json-c objects
# they need, partially linked into one relocatable object in which every
# symbol but raiiaf_* is local. A program linking it then has no json_*
# reference of ours left to bind to json-glib (or anything else), and our
# internal rf_* functions cannot clash with its own.
set -eu
out=$1 objects=$2 jsonc=$3 ld=$4 objcopy=$5 ar=$6 nm=$7
obj=${out%.a}.o
rm -f "$out" "$obj"
"$ld" -r -o "$obj" --whole-archive "$objects" --no-whole-archive "$jsonc"
"$objcopy" --wildcard --keep-global-symbol='raiiaf_*' "$obj"
# Still undefined json-c functions would be bound outside the library.
if "$nm" -u "$obj" | grep -E ' (json_|lh_|array_list_|printbuf_)'; then
    echo "static-archive.sh: json-c symbols left undefined in $obj" >&2
    exit 1
fi
# (Names starting with '_' belong to the compiler and its runtimes, e.g. the
# sanitizers' common symbols, which cannot be made local.)
if "$nm" -g --defined-only "$obj" | grep -v -e ' raiiaf_' -e ' _'; then
    echo "static-archive.sh: symbols other than raiiaf_* exported by $obj" >&2
    exit 1
fi
"$ar" rcD "$out" "$obj"
rm -f "$obj"
