// npm scripts put node_modules/.bin first on PATH, where the `node` dev dependency installs Node 24.
// If an older Node runs the tests, dependencies (openclaw, @xmtp/node-sdk) fail later in confusing ways.
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  console.error(
    `Node ${process.versions.node} is running, but this project needs Node 24 (pinned as the "node" dev dependency).\n` +
      "Run it through npm (npm test / npm start) after `npm install`, which puts Node 24 in node_modules/.bin.",
  )
  process.exit(1)
}
