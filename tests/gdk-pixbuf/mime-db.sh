#!/bin/sh
# mime-db.sh XDG_DIR RAIIAF_XML STAMP
# A MIME database in XDG_DIR/mime holding the suite's image/x-raiiaf type:
# gdk-pixbuf picks a loader by the MIME type GIO guesses (shared-mime-info),
# so the tests point XDG_DATA_HOME at XDG_DIR, as an installed
# raiiaf-tools package puts the type into /usr/share/mime.
set -eu
mkdir -p "$1/mime/packages"
cp "$2" "$1/mime/packages/raiiaf.xml"
update-mime-database "$1/mime"
touch "$3"
