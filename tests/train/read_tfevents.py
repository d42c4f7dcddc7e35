#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for event_writer_test.

It shares no code with rill: the CRCs come from Debian's python3-crc32c, and
the records are decoded from the protobuf wire format by hand with the field
numbers of TensorFlow's event.proto and summary.proto (Event: wall_time 1,
step 2, file_version 3, summary 5, session_log 7; Summary: value 1; Value:
tag 1, simple_value 2; SessionLog: status 1, START = 1). Prints "version <v>"
for the first record, "<step> <tag> <value>" for every scalar and
"<step> session_log <status>" for a SessionLog; exits 1 on a bad CRC or
length.
"""
import struct
import sys

import crc32c


def masked(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fields(buf):
    """(field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            sys.exit(f"unexpected wire type {wire}")
        yield number, wire, value


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def main(path):
    data = open(path, "rb").read()
    i = 0
    while i < len(data):
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        if masked(header) != length_crc:
            sys.exit(f"bad length CRC at byte {i}")
        body = data[i + 12:i + 12 + length]
        (body_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        if len(body) != length or masked(body) != body_crc:
            sys.exit(f"bad data CRC at byte {i}")
        i += 16 + length
        step = 0
        for number, _, value in fields(body):
            if number == 2:
                step = value
            elif number == 3:
                print("version", value.decode())
            elif number == 7:
                status = dict((n, v) for n, _, v in fields(value)).get(1, 0)
                print(step, "session_log", status)
            elif number == 5:
                for n, _, v in fields(value):
                    if n != 1:
                        continue
                    tag, scalar = None, None
                    for vn, _, vv in fields(v):
                        if vn == 1:
                            tag = vv.decode()
                        elif vn == 2:
                            (scalar,) = struct.unpack("<f", vv)
                    print(step, tag, repr(scalar))


if __name__ == "__main__":
    main(sys.argv[1])
