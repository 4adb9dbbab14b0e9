"""XML annotation files to an element tree: the encoding determined as the XML specification
says (byte-order mark, UTF-16 / UTF-32 zero bytes, the declared encoding), namespaces removed,
entity declarations refused, in a time linear in the file's size. Used by the VOC reader."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from centernet_keras.text import quote, shorten

#: Byte-order marks and their encodings, UTF-32's first (UTF-32 LE's starts like UTF-16 LE's).
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
#: The encoding of an XML declaration in an ASCII-compatible file.
_DECLARED = re.compile(rb"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][\w.-]{0,99})["']""")


def _xml_encoding(data: bytes) -> tuple[str, int, str]:
    """How an XML file is encoded, as the XML specification (appendix F) determines it: a
    byte-order mark, else the zero bytes of UTF-16 / UTF-32 around its first ASCII characters
    (``<``, ``<?xml``, white space), else the declared ``encoding``, else UTF-8.

    Returns:
        ``(encoding name, length of the byte-order mark, how it was found)``: ``"bom"``,
        ``"bytes"`` (the zero-byte pattern), ``"declared"`` or ``"default"``.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom), "bom"
    a, b, c, d = (data[:4] + b"\1\1\1\1")[:4]
    if a == b == c == 0 and d:
        return "utf-32-be", 0, "bytes"
    if a and b == c == d == 0:
        return "utf-32-le", 0, "bytes"
    if a == c == 0 and b and d:
        return "utf-16-be", 0, "bytes"
    if b == d == 0 and a and c:
        return "utf-16-le", 0, "bytes"
    declared = _DECLARED.match(data, 0, 1024)
    if declared:
        return declared.group(1).decode("ascii"), 0, "declared"
    return "utf-8", 0, "default"


def _decode_xml(data: bytes) -> str:
    """The text of an XML file in whatever encoding it determines (``_xml_encoding``): UTF-8,
    UTF-16 and UTF-32 with or without a byte-order mark, and any declared encoding Python has a
    codec for (Shift_JIS, EUC-JP, ISO-8859-1, windows-1252, ...).

    Raises:
        ValueError: an unknown declared encoding, bytes that encoding cannot decode, or a
            declared UTF-16 / UTF-32 in a file of 8-bit characters.
    """
    name, skip, found = _xml_encoding(data)
    try:
        codec = codecs.lookup(name).name
        if found == "declared" and codec.startswith(("utf-16", "utf-32")):
            raise ValueError(f"declares encoding {quote(name)} but is written in 8-bit characters")
        return data[skip:].decode(codec)
    except LookupError as err:  # no codec, or not a text encoding (base64, rot13)
        raise ValueError(f"unknown encoding {quote(name)} declared (use UTF-8)") from err
    except UnicodeDecodeError as err:
        where = err.start + skip
        if not codec.startswith(("utf-16", "utf-32")):
            line = data.count(b"\n", 0, where) + 1
            where = f"{where} (line {line})"
        if found == "default":
            hint = '; no other encoding is declared (<?xml version="1.0" encoding="..."?>)'
        else:
            hint = f", its {'declared ' if found == 'declared' else ''}encoding"
        raise ValueError(f"byte {where} is not valid {name} ({err.reason}){hint}") from err


def read_xml(xml_path: Path) -> ET.Element:
    """The root of an XML file with namespaces removed from the tags (``{uri}object`` →
    ``object``), read in a time linear in the file's size.

    The text is decoded first (``_decode_xml``: a byte-order mark, the UTF-16 / UTF-32 zero-byte
    pattern or the declared encoding; expat itself knows UTF-8, UTF-16 and 8-bit codecs only).
    It is parsed in one call: read in pieces (as ``ET.parse`` does, 64 KiB at a time),
    expat re-scans a token that spans pieces from its start, so a 16 MB comment took 4 s.
    Entity declarations (``<!ENTITY ...>``, never used by VOC files) are refused: a 420-byte file
    expanded to 70,000 objects and took 5 s.

    Raises:
        ValueError: unparsable, an entity declaration, an encoding Python does not know or
            bytes it cannot decode (the message says which).
        OSError: unreadable file.
    """
    text = _decode_xml(xml_path.read_bytes())
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse_entity(name: str, *_: object) -> None:
        raise ValueError(
            f"entity declaration {quote(name)} on line {parser.CurrentLineNumber}: "
            "<!ENTITY> is not read (an annotation needs none)"
        )

    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = refuse_entity
    try:
        parser.Parse(text, True)  # a str: expat reads it as UTF-8, whatever the declaration says
        root = builder.close()
    except (expat.ExpatError, UnicodeError) as err:
        raise ValueError(shorten(err, 200)) from err
    for element in root.iter():
        if "}" in element.tag:  # expat writes a namespaced tag as "uri}local"
            element.tag = element.tag.rsplit("}", 1)[1]
    return root
