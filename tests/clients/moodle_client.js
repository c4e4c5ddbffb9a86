// moodle-client (by Moodle HQ's David Mudrák), used as its README shows: `init` with
// wwwroot, username, password and service (POST login/token.php), then `call` with GET (the
// default) and with POST.
//
// Usage: node moodle_client.js BASE USERNAME SERVICE, the password on stdin; NODE_PATH names
// the node_modules holding the package. Prints one JSON summary on stdout (never the token);
// any failure exits non-zero.
"use strict";

const moodle_client = require("moodle-client");

const [base, username, service] = process.argv.slice(2);
const password = require("fs").readFileSync(0, "utf8").split("\n")[0];

async function main() {
    // The README's wwwroot ends with a slash, so the client asks for "//login/token.php".
    const options = { wwwroot: base + "/", username: username, password: password, service: service };
    const client = await moodle_client.init(options);
    const info = await client.call({ wsfunction: "core_webservice_get_site_info" });
    const found = await client.call({
        wsfunction: "core_user_get_users_by_field",
        args: { field: "username", values: [username] },
    });
    const posted = await client.call({
        wsfunction: "core_user_get_users_by_field",
        method: "POST",
        args: { field: "id", values: [info.userid] },
    });
    const again = await moodle_client.init(options);
    console.log(JSON.stringify({
        token_is_32_hex: /^[0-9a-f]{32}$/.test(client.token),
        same_token_on_relogin: again.token === client.token,
        username: info.username,
        userid: info.userid,
        siteurl: info.siteurl,
        functions: info.functions.map((f) => f.name),
        has_userprivateaccesskey: typeof info.userprivateaccesskey === "string",
        found: found.concat(posted).map((u) => ({ id: u.id, username: u.username })),
    }));
}

main().catch((err) => {
    console.error(String((err && err.message) || err));
    process.exit(1);
});
