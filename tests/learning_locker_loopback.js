// Preloaded (node -r) into Learning Locker's statement service by tests/learning_locker.py:
// the service listens on every interface by itself, and a test server must listen on
// loopback only. Every listening TCP socket of the process is bound to 127.0.0.1.
"use strict";
const net = require("net");

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (args.length === 0 || typeof first === "function") {
    // listen([callback]): any port, which we make a loopback one.
    args.unshift(0, LOOPBACK);
  } else if (first !== null && typeof first === "object") {
    // listen(options[, callback]); a Unix socket path stays as it is.
    if (first.path === undefined && first.fd === undefined && first.handle === undefined) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === "string") {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  }
  return listen.apply(this, args);
};
