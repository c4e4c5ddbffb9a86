"""pymoodle, used through its public API: `MoodleClient.get_token` (first the site's public
config from lib/ajax/service.php, then POST login/token.php when `typeoflogin` says the app
logs in itself), then the generated typed methods on a client holding that token.

Usage: python pymoodle_client.py BASE USERNAME SERVICE, the password on stdin. Prints one JSON
summary on stdout (never the token); any failure raises, so the exit status is non-zero.
"""

import json
import re
import sys

from moodle.session import MoodleClient

base, username, service = sys.argv[1:4]
password = sys.stdin.readline().rstrip("\n")

with MoodleClient(base, "", timeout=30) as anonymous:
    token = anonymous.get_token(username, password, service)
    again = anonymous.get_token(username, password, service)

with MoodleClient(base, token, timeout=30) as client:
    info = client.core_webservice_get_site_info()
    found = client.core_user_get_users_by_field(field="username", values=[username])

print(
    json.dumps(
        {
            "token_is_32_hex": bool(re.fullmatch(r"[0-9a-f]{32}", token)),
            "same_token_on_relogin": again == token,
            "username": info["username"],
            "userid": info["userid"],
            "siteurl": info["siteurl"],
            "functions": [f["name"] for f in info["functions"]],
            "has_userprivateaccesskey": info.get("userprivateaccesskey") is not None,
            "found": [{"id": u["id"], "username": u["username"]} for u in found],
        }
    )
)
