// moodle-client's `upload`, as its README shows: `init` (POST login/token.php), then `upload`
// with `files` as the `request` library's formData (the token goes in the query string).
//
// Usage: node moodle_client_upload.js BASE USERNAME SERVICE, the password on stdin. Prints the
// records of the uploaded files as the server answered them; any failure exits non-zero.
"use strict";

const moodle_client = require("moodle-client");

const [base, username, service] = process.argv.slice(2);
const password = require("fs").readFileSync(0, "utf8").split("\n")[0];

async function main() {
    const client = await moodle_client.init({ wwwroot: base + "/", username, password, service });
    const content = Buffer.from("wsconsole upload test\n".repeat(1000));
    const records = await client.upload({
        files: { file_1: { value: content, options: { filename: "notes.txt", contentType: "text/plain" } } },
    });
    console.log(JSON.stringify(records));
}

main().catch((err) => {
    console.error(String((err && err.message) || err));
    process.exit(1);
});
