// Verify one event's inclusion proof and its checkpoint's signature in the browser, with
// WebCrypto (SHA-256 and Ed25519): nothing is asked of the server for the check itself, so
// a page that lies about its proof cannot also lie about the result.
//
// Steps (docs/integrity.md): the leaf hash is SHA-256(0x00 || canonical bytes) when the page
// carries the bytes (administrators); the audit path folds the leaf hash up to the root
// (RFC 9162 2.1.3.2); the signed note's body names that tree size and root; its signature
// line is by the key shown (key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]) and
// the Ed25519 signature over the body verifies.
(function () {
  "use strict";
  var section = document.getElementById("proof");
  var status = document.getElementById("verify-status");
  var list = document.getElementById("verify-steps");
  if (!section || !status || !list) {
    return;
  }
  if (section.dataset.treeSize === undefined) {
    return; // no checkpoint covers this event yet; the page says so
  }
  var data = section.dataset;
  var encoder = new TextEncoder();

  function fail(message) {
    var error = new Error(message);
    error.verification = true;
    return error;
  }
  function hexToBytes(hex, what) {
    if (!/^([0-9a-f]{2})*$/.test(hex)) {
      throw fail(what + " is not hexadecimal");
    }
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return out;
  }
  function bytesToHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function base64ToBytes(text, what) {
    var raw;
    try {
      raw = atob(text);
    } catch (e) {
      throw fail(what + " is not base64");
    }
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i);
    }
    return out;
  }
  function concat() {
    var total = 0, offset = 0, i;
    for (i = 0; i < arguments.length; i++) { total += arguments[i].length; }
    var out = new Uint8Array(total);
    for (i = 0; i < arguments.length; i++) {
      out.set(arguments[i], offset);
      offset += arguments[i].length;
    }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) { return false; }
    }
    return true;
  }
  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) {
      return new Uint8Array(d);
    });
  }
  function node(left, right) {
    return sha256(concat(new Uint8Array([1]), left, right));
  }
  function step(text, ok) {
    var item = document.createElement("li");
    item.textContent = (ok ? "\u2713 " : "\u2717 ") + text;
    item.className = ok ? "ok" : "failed";
    list.appendChild(item);
  }

  // RFC 9162 2.1.3.2: fold the audit path; every element is used, a path of the wrong
  // length fails.
  function rootFromPath(index, size, leaf, path) {
    if (index >= size) {
      return Promise.reject(fail("the leaf index " + index + " is not below the tree size " + size));
    }
    var fn = index, sn = size - 1, r = Promise.resolve(leaf), i = 0;
    function next(current) {
      if (i === path.length) {
        if (sn !== 0) {
          throw fail("the proof has " + path.length + " hashes, too few for a tree of " + size);
        }
        return current;
      }
      if (sn === 0) {
        throw fail("the proof has " + path.length + " hashes, more than a tree of " + size + " needs");
      }
      var p = path[i++];
      var folded;
      if (fn % 2 === 1 || fn === sn) {
        folded = node(p, current);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        folded = node(current, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      return folded.then(next);
    }
    return r.then(next);
  }

  function parseNote(bytes) {
    var text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    var split = text.lastIndexOf("\n\n");
    if (split < 0) { throw fail("the checkpoint has no blank line before its signatures"); }
    var body = text.slice(0, split + 1);
    var lines = body.split("\n");
    var signatures = text.slice(split + 2).split("\n").filter(function (l) { return l; });
    return { body: body, origin: lines[0], size: lines[1], root: lines[2], signatures: signatures };
  }

  function parseVkey(vkey) {
    // The base64 key may itself hold "+": split at the first two only.
    var first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    if (first < 1 || second < 0) { throw fail("the key is not <name>+<id>+<key>"); }
    var parts = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
    var raw = base64ToBytes(parts[2], "the key");
    if (raw.length !== 33 || raw[0] !== 1) { throw fail("the key is not an Ed25519 key"); }
    return { name: parts[0], id: parts[1], publicKey: raw.slice(1) };
  }

  function verify() {
    if (!window.crypto || !crypto.subtle) {
      return Promise.reject(fail("this browser offers no WebCrypto here (it needs HTTPS or localhost)"));
    }
    var seq = Number(data.seq);
    var size = Number(data.treeSize);
    var leaf = hexToBytes(data.leafHash, "the leaf hash");
    var root = hexToBytes(data.rootHash, "the root hash");
    var path = data.proof ? data.proof.split(" ").map(function (h, n) {
      var bytes = hexToBytes(h, "proof hash " + (n + 1));
      if (bytes.length !== 32) { throw fail("proof hash " + (n + 1) + " is not 32 bytes"); }
      return bytes;
    }) : [];
    var note = parseNote(base64ToBytes(data.note, "the checkpoint"));
    if (!data.vkey) { throw fail("no registered key signed this checkpoint"); }
    var key = parseVkey(data.vkey);
    var first = Promise.resolve();
    if (data.canonical) {
      first = sha256(concat(new Uint8Array([0]), base64ToBytes(data.canonical, "the canonical bytes")))
        .then(function (computed) {
          if (!equal(computed, leaf)) {
            throw fail("the canonical bytes hash to " + bytesToHex(computed) + ", not to the leaf hash shown");
          }
          step("The canonical bytes hash to the leaf hash.", true);
        });
    }
    return first.then(function () {
      return rootFromPath(seq, size, leaf, path);
    }).then(function (computed) {
      if (!equal(computed, root)) {
        throw fail("the inclusion proof leads to root " + bytesToHex(computed) + ", not to the checkpoint's root " + data.rootHash);
      }
      step("The inclusion proof leads from leaf " + seq + " to the root of " + size + " events.", true);
      if (note.size !== String(size)) {
        throw fail("the checkpoint is for " + note.size + " events, not " + size);
      }
      if (!equal(base64ToBytes(note.root, "the checkpoint's root"), root)) {
        throw fail("the checkpoint names another root than the proof's");
      }
      step("The signed checkpoint names that size and root.", true);
      var prefix = "\u2014 " + key.name + " ";
      var line = note.signatures.filter(function (l) { return l.indexOf(prefix) === 0; })[0];
      if (!line) { throw fail("the checkpoint has no signature by " + key.name); }
      var signed = base64ToBytes(line.slice(prefix.length), "the signature");
      return sha256(concat(encoder.encode(key.name), new Uint8Array([10, 1]), key.publicKey))
        .then(function (digest) {
          if (bytesToHex(digest.slice(0, 4)) !== key.id || !equal(signed.slice(0, 4), digest.slice(0, 4))) {
            throw fail("the signature's key id is not the key's (" + key.id + ")");
          }
          return crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
        })
        .then(function (publicKey) {
          return crypto.subtle.verify({ name: "Ed25519" }, publicKey, signed.slice(4), encoder.encode(note.body));
        }, function (error) {
          if (error.verification) { throw error; }
          throw fail("this browser cannot check Ed25519 signatures (" + error.message + ")");
        })
        .then(function (valid) {
          if (!valid) { throw fail("the checkpoint's Ed25519 signature does not verify with key " + key.id); }
          step("The checkpoint's Ed25519 signature verifies with key " + key.id + ".", true);
          return { size: size, key: key };
        });
    });
  }

  status.dataset.state = "checking";
  status.textContent = "Checking in your browser…";
  Promise.resolve().then(verify).then(function (result) {
    status.dataset.state = "verified";
    status.textContent = "Verified in your browser against checkpoint " + result.size +
      ", key " + result.key.name + "+" + result.key.id + ".";
  }, function (error) {
    status.dataset.state = "failed";
    var why = error && error.verification ? error.message : "an unexpected error: " + error;
    step(why[0].toUpperCase() + why.slice(1) + ".", false);
    status.textContent = "Verification FAILED in your browser: " + why + ".";
  });
})();
