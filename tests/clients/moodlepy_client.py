"""moodlepy, used as its README shows: `Moodle.login` (GET login/token.php with username,
password and service), the typed `core.webservice.get_site_info()` (cattrs refuses an answer
that lacks a field its `SiteInfo` requires) and a raw call by name.

Usage: python moodlepy_client.py BASE USERNAME SERVICE, the password on stdin. Prints one JSON
summary on stdout (never the token); any failure raises, so the exit status is non-zero.
"""

import json
import re
import sys

from moodle import Moodle

base, username, service = sys.argv[1:4]
password = sys.stdin.readline().rstrip("\n")

moodle = Moodle.login(base, username, password, service=service)
info = moodle.core.webservice.get_site_info()
found = moodle("core_user_get_users_by_field", field="username", values=[username])
again = Moodle.login(base, username, password, service=service)

print(
    json.dumps(
        {
            "token_is_32_hex": bool(re.fullmatch(r"[0-9a-f]{32}", moodle.token)),
            "same_token_on_relogin": again.token == moodle.token,
            "username": info.username,
            "userid": info.userid,
            "siteurl": info.siteurl,
            "functions": [f.name for f in info.functions],
            "has_userprivateaccesskey": info.userprivateaccesskey is not None,
            "found": [{"id": u["id"], "username": u["username"]} for u in found],
        }
    )
)
