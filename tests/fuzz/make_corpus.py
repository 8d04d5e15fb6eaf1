#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets to tests/fuzz/corpus/<target>/.

Seeds are small valid inputs that reach deep paths at once; libFuzzer mutates from there. The
input formats are described at the top of each tests/fuzz/<target>/*_fuzzer.cpp. Field numbers
below come from proto/telemed/v1/*.proto. Regression inputs (crashes that were fixed) are added
by hand as corpus/<target>/regression-*; this script leaves them alone.
"""

import hashlib
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def u8(value):
    return struct.pack("<B", value)


def u16(value):
    return struct.pack("<H", value)


def u32(value):
    return struct.pack("<I", value)


# ---- protobuf wire format (enough for the requests used here) ----------------------------------

def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def client_frame(request_id, field, body=b""):
    """ClientFrame: request_id = 1, the request oneof field `field` holding `body`."""
    return field_varint(1, request_id) + field_bytes(field, body)


LOGIN, RESUME, LOGOUT, LIST_ORGANIZATIONS, LIST_SPECIALISTS, OPEN_CONSULTATION = 2, 3, 4, 5, 6, 7
GET_CONSULTATION, LIST_CONSULTATIONS, ACCEPT_CONSULTATION = 8, 9, 10
POST_MESSAGE, SYNC_CONSULTATION = 16, 18
BEGIN_UPLOAD, UPLOAD_CHUNK, FINISH_UPLOAD, READ_FILE, LIST_SLOTS = 20, 21, 22, 23, 27


ONE_AT_A_TIME = 0x80  # frames wait for each answer; "$N" names the N-th most recent id


def frames_input(who, frames):
    """frames target: caller byte (0 = not signed in), then length-prefixed ClientFrames."""
    return u8(who) + b"".join(u16(len(frame)) + frame for frame in frames)


def by_id(request_id, field, reference, extra=b""):
    """A request whose first field names an id the server answered earlier ("$N")."""
    return client_frame(request_id, field, field_bytes(1, reference) + extra)


def text_message(client_msg_id, text):
    """PostMessageRequest after its consultation_id: client_msg_id and a text body."""
    return field_bytes(2, client_msg_id) + field_bytes(3, field_bytes(1, text))


def open_consultation(request_id):
    patient = field_bytes(1, "FUZZ-7") + field_varint(2, 19) + field_varint(3, 2)
    body = (field_bytes(1, patient) + field_bytes(2, "orthopedics") + field_varint(3, 3) +
            field_bytes(4, "Crushed leg: can it be saved?") + field_bytes(5, "Open fracture."))
    return client_frame(request_id, OPEN_CONSULTATION, body)


def frames_seeds():
    login = field_bytes(1, "fuzz.clinician") + field_bytes(2, "fuzz-password")
    wrong = field_bytes(1, "fuzz.clinician") + field_bytes(2, "wrong")
    content = bytes(range(100))
    begin = (field_bytes(3, "scan.png") + field_bytes(4, "image/png") + field_varint(5, 100) +
             field_bytes(6, hashlib.sha256(content).digest()))
    return {
        "login-then-directory": frames_input(0, [
            client_frame(1, LOGIN, login),
            client_frame(2, LIST_ORGANIZATIONS),
            client_frame(3, LIST_SPECIALISTS, field_bytes(1, "orthopedics")),
            client_frame(4, LOGOUT)]),
        "unauthenticated": frames_input(0, [
            client_frame(1, LOGIN, wrong),
            client_frame(2, RESUME, field_bytes(1, "not-a-token")),
            client_frame(3, LIST_ORGANIZATIONS),
            field_varint(1, 4)]),  # no request at all
        "clinician-consultations": frames_input(1, [
            open_consultation(1),
            client_frame(2, LIST_CONSULTATIONS, field_varint(2, 10)),
            client_frame(3, GET_CONSULTATION, field_bytes(1, "con_unknown")),
            by_id(4, POST_MESSAGE, "con_unknown", text_message("m1", "hello")),
            client_frame(5, SYNC_CONSULTATION, field_bytes(1, "con_unknown"))]),
        "clinician-upload": frames_input(1, [
            client_frame(1, BEGIN_UPLOAD, begin),
            client_frame(2, UPLOAD_CHUNK, field_bytes(1, "upl_unknown") + field_bytes(3, content)),
            client_frame(3, FINISH_UPLOAD, field_bytes(1, "upl_unknown")),
            client_frame(4, READ_FILE, field_bytes(1, "cf_unknown"))]),
        "specialist-and-coordinator": frames_input(2, [
            client_frame(1, LIST_CONSULTATIONS),
            client_frame(2, LIST_SLOTS, field_bytes(1, "orthopedics"))]) ,
        "undecodable": frames_input(3, [client_frame(1, LIST_ORGANIZATIONS), b"\xff\xff\xff"]),
        "clinician-uses-answered-ids": frames_input(ONE_AT_A_TIME | 1, [
            open_consultation(1),
            by_id(2, GET_CONSULTATION, "$0"),
            by_id(3, POST_MESSAGE, "$1", text_message("m1", "hi")),
            by_id(4, SYNC_CONSULTATION, "$2"),
            client_frame(5, BEGIN_UPLOAD, begin),
            by_id(6, UPLOAD_CHUNK, "$0", field_bytes(3, content)),
            by_id(7, FINISH_UPLOAD, "$0"),
            by_id(8, READ_FILE, "$0")]),
        "specialist-uses-answered-ids": frames_input(ONE_AT_A_TIME | 2, [
            client_frame(1, LIST_CONSULTATIONS),
            by_id(2, ACCEPT_CONSULTATION, "$0"),
            by_id(3, POST_MESSAGE, "$0", text_message("m2", "ok"))]),
    }


# ---- uploads: operations (see uploads_fuzzer.cpp) ---------------------------------------------

BEGIN, CHUNK, RESUME_UPLOAD, FINISH, READ, RESTART, DAMAGE, EXPIRE, SHARE = range(9)


def begin(size, flags=0, caller=0, seed=7, extra=b""):
    return u8(BEGIN) + u8(flags) + u8(caller) + u16(size) + u8(seed) + extra


def chunks(count, slot=0):
    return (u8(CHUNK) + u8(slot) + u8(0)) * count


def uploads_seeds():
    return {
        "upload-and-read": begin(200) + chunks(4) + u8(FINISH) + u8(0) +
        u8(READ) + u8(0) + u8(0) + u16(50) + u16(100),
        "restart-and-resume": begin(150) + chunks(1) + u8(RESTART) +
        u8(RESUME_UPLOAD) + u8(0) + u8(0) + chunks(2) + u8(FINISH) + u8(0),
        "shared-with-consultation": begin(64, flags=8) + chunks(1) + u8(FINISH) + u8(0) +
        u8(SHARE) + u8(0) + u8(0) + u8(READ) + u8(0) + u8(2) + u16(0) + u16(0),
        "damaged-blob": begin(130) + chunks(3) + u8(DAMAGE) + u8(0) + u16(40) + u8(0) + u8(1) +
        u8(RESTART) + u8(FINISH) + u8(0),
        "expired": begin(100) + chunks(1) + u8(EXPIRE) + u8(61) + chunks(1) +
        u8(RESUME_UPLOAD) + u8(0) + u8(0),
        "wrong-checksum": begin(70, flags=4, extra=bytes(32)) + chunks(2) + u8(FINISH) + u8(0),
        # the same declaration again continues the upload (after a restart too); once finished,
        # it starts a new one
        "begun-again": begin(150) + chunks(1) + begin(150) + chunks(1) + u8(RESTART) +
        begin(150) + chunks(1) + u8(FINISH) + u8(0) + begin(150) + chunks(3),
        "two-uploads-restart-damage": begin(300, seed=1) + begin(90, seed=2, flags=8) +
        chunks(2, slot=0) + chunks(2, slot=1) + u8(FINISH) + u8(1) + u8(RESTART) +
        u8(RESUME_UPLOAD) + u8(0) + u8(0) + chunks(3, slot=0) + u8(FINISH) + u8(0) +
        u8(DAMAGE) + u8(1) + u16(70) + u8(0) + u8(4) + u8(READ) + u8(1) + u8(0) + u16(0) +
        u16(0) + u8(READ) + u8(0) + u8(0) + u16(128) + u16(64),
    }


# ---- audit_verifier: records, heads, tampering, external head (see the fuzzer) ----------------

def records(count):
    # flags 4: one object id; actor usr_<i>; action index i; time i seconds
    return u8(count) + b"".join(u8(4) + u8(i) + u8(i) + u8(i) + u16(i) for i in range(count))


def heads(*sizes):
    return u8(len(sizes)) + b"".join(u8(size) + u16(100 + size) for size in sizes)


def tampering(*steps):
    return u8(len(steps)) + b"".join(steps)


NO_EXTERNAL = u8(0)


def audit_seeds():
    head_text = ("tmc-audit-head 1\ntree_size 3\nroot_hash " + "ab" * 32 +
                 "\nsigned_at 2025-03-01T08:00:00.000000Z\npublic_key " + "cd" * 32 +
                 "\nsignature " + "ef" * 64 + "\n").encode()
    return {
        "intact": records(5) + heads(2, 5) + tampering() + NO_EXTERNAL,
        "edited-record": records(8) + heads(4, 8) +
        tampering(u8(0) + u8(6) + u8(20) + u8(1)) + NO_EXTERNAL,
        "consistent-rewrite": records(8) + heads(8) +
        tampering(u8(5) + u8(3) + u8(10) + u8(2)) + NO_EXTERNAL,
        "deleted-record": records(6) + heads(6) + tampering(u8(2) + u8(2)) + NO_EXTERNAL,
        "inserted-record": records(6) + heads(3) + tampering(u8(4) + u8(3)) + NO_EXTERNAL,
        "forged-head": records(4) + heads(4) + tampering(u8(6) + u8(0) + u8(1) + u8(5) + u8(1)) +
        u8(1) + u8(0),
        "external-head-text": records(3) + heads(3) + tampering() + u8(2) + u16(len(head_text)) +
        head_text,
    }


def upload_chunk(upload_id, offset, data):
    return field_bytes(1, upload_id) + field_varint(2, offset) + field_bytes(3, data)


def frame_decoder_seeds():
    """frame_decoder target: one ClientFrame, as sent."""
    return {
        "chunk": client_frame(5, UPLOAD_CHUNK, upload_chunk("up_seed", 1 << 20, b"\x00\x01" * 40)),
        "chunk-fields-reversed": field_bytes(UPLOAD_CHUNK, field_bytes(3, b"data") +
                                             field_varint(2, 8) + field_bytes(1, "up_x")) +
        field_varint(1, 6),
        "chunk-twice": client_frame(7, UPLOAD_CHUNK, upload_chunk("up_a", 0, b"first")) +
        field_bytes(UPLOAD_CHUNK, field_bytes(3, b"second")),
        "other-request": client_frame(8, LIST_ORGANIZATIONS),
    }


# ---- blob_records: operations (see blob_records_fuzzer.cpp) -----------------------------------

PUT, APPEND, APPEND_RUN, CUT, FLIP, STORES, TRUNCATE = range(7)


def put(size_class, size, seed=1):
    operand = u8(size) if size_class in (0, 2) else u16(size)
    return u8(PUT) + u8(size_class) + operand + u8(seed)


def large(seed=1):
    return put(3, 17000, seed)  # 65,536 + 34,000 bytes: an aligned record


def blob_records_seeds():
    return {
        "aligned-records": large(1) + large(2) + large(3) + u8(STORES) + u8(0),
        "plain-then-aligned": put(1, 4076) + large() + put(0, 10) + u8(STORES) + u8(0),
        "around-the-threshold": put(2, 63) + put(2, 64) + u8(STORES) + u8(0),
        "torn-aligned": large(1) + large(2) + u8(CUT) + u16(5000) + u8(STORES) + u8(0) +
        large(3),
        "zeros-behind-the-records": large(1) + u8(APPEND_RUN) + u16(4095) + u8(0) +
        u8(STORES) + u8(0) + large(2),
        "flipped-then-put": large(1) + large(2) + u8(FLIP) + u32(102400 + 5) + u8(4) +
        u8(STORES) + u8(0) + put(1, 300),
        "other-store-and-truncate": put(0, 30) + put(0, 40) + put(0, 50) + u8(STORES) + u8(1) +
        u8(TRUNCATE) + u8(1) + large(),
    }


def main():
    for target, seeds in (("frames", frames_seeds()), ("uploads", uploads_seeds()),
                          ("audit_verifier", audit_seeds()),
                          ("frame_decoder", frame_decoder_seeds()),
                          ("blob_records", blob_records_seeds())):
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (directory / name).write_bytes(data)


if __name__ == "__main__":
    main()
