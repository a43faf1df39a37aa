"""Regenerate feedback-url.json from the reference implementation in apps/feedback/signing.py.

    python sdk/test-vectors/generate.py > sdk/test-vectors/feedback-url.json

The file is the contract: both SDKs and the server tests read it. Never regenerate it to make
a failing SDK pass; fix the SDK.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from apps.feedback.signing import encode_payload, make_url, sign_payload  # noqa: E402
from apps.projects.models import derive_signing_key  # noqa: E402

CASES = [
    ("plain ascii user", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 1767225600, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "user-42"),
    ("empty user", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 1767225600, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", ""),
    ("non-ascii latin user", "al_sk_0f0e0d0c0b0a_Zm9vYmFyYmF6cXV4LXNlY3JldC12YWx1ZS0xMjM0NTY", "http://localhost:8000", 1800000000, "0f0e0d0c0b0a", "11111111-2222-4333-8444-555555555555", "00000000-0000-4000-8000-000000000001", "José Müller"),
    ("cjk user", "al_sk_0f0e0d0c0b0a_Zm9vYmFyYmF6cXV4LXNlY3JldC12YWx1ZS0xMjM0NTY", "http://localhost:8000", 1800000000, "0f0e0d0c0b0a", "11111111-2222-4333-8444-555555555555", "00000000-0000-4000-8000-000000000002", "用户-張三"),
    ("emoji user", "al_sk_0f0e0d0c0b0a_Zm9vYmFyYmF6cXV4LXNlY3JldC12YWx1ZS0xMjM0NTY", "http://localhost:8000", 1800000000, "0f0e0d0c0b0a", "11111111-2222-4333-8444-555555555555", "00000000-0000-4000-8000-000000000003", "🙂👍🏽 family 👨‍👩‍👧"),
    ("url-reserved characters in user", "al_sk_9a8b7c6d5e4f_c2VjcmV0LXdpdGgtLXVuZGVyc2NvcmVzX2FuZC1kYXNoZXM", "https://feedback.example.org/", 1735689600, "9a8b7c6d5e4f", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb", "it's (really) *me*!"),
    ("base64 alphabet characters in user", "al_sk_9a8b7c6d5e4f_c2VjcmV0LXdpdGgtLXVuZGVyc2NvcmVzX2FuZC1kYXNoZXM", "https://feedback.example.org", 1735689600, "9a8b7c6d5e4f", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb", "a/b+c=d==/+"),
    ("json-escaped characters in user", "al_sk_123456abcdef_UXVvdGVzIiBhbmQgYmFja3NsYXNoZXMgXCBpbiBzZWNyZXQ", "https://agentloop.example.com", 1767225600, "123456abcdef", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "12345678-1234-4234-8234-123456789abc", 'quote " backslash \\ tab\t newline\n'),
    ("large expiry", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 253402300799, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "user-42"),
    ("expiry beyond 2^32", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 4294967297, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "user-42"),
    ("non-ascii secret key", "al_sk_a1b2c3d4e5f6_clé-secrète-ünïcødé", "https://agentloop.example.com", 1767225600, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "user-42"),
    ("long user id", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 1767225600, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "x" * 200),
    ("email-like user with plus", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com:8443", 1767225600, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "jane.doe+support@example.com"),
    ("zero expiry", "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq", "https://agentloop.example.com", 0, "a1b2c3d4e5f6", "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10", "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "u"),
]


def main() -> None:
    vectors = []
    for name, secret, host, exp, key_id, project_id, turn_id, user_id in CASES:
        signing_key = derive_signing_key(secret)
        payload = encode_payload(exp=exp, key_id=key_id, project_id=project_id, turn_id=turn_id, user_id=user_id)
        vectors.append({
            "name": name,
            "input": {"api_key": secret, "host": host, "exp": exp, "key_id": key_id,
                      "project_id": project_id, "turn_id": turn_id, "user_id": user_id},
            "signing_key_hex": signing_key.hex(),
            "payload": payload,
            "signature": sign_payload(payload, signing_key),
            "url": make_url(host=host, signing_key=signing_key, exp=exp, key_id=key_id,
                            project_id=project_id, turn_id=turn_id, user_id=user_id),
        })
    json.dump({"scheme": "agentloop-feedback-v1", "vectors": vectors}, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
