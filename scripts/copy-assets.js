'use strict';
// Node-RED looks for icons only beside the node .js files, so the build copies them there.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const from = path.join(root, 'icons');
const to = path.join(root, 'nodes', 'icons');
fs.mkdirSync(to, { recursive: true });
for (const name of fs.readdirSync(from)) {
    fs.copyFileSync(path.join(from, name), path.join(to, name));
}
