// Security keys and passkeys (WebAuthn) for the staff console: the one script of the
// console. The server makes the options and verifies the answers; this only carries
// them between the page and the browser's authenticator API.
"use strict";

function fromB64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "===".slice((b64.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
}

function toB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptors(list) {
  return (list || []).map((d) => Object.assign({}, d, { id: fromB64url(d.id) }));
}

async function createKey(form) {
  const options = JSON.parse(form.dataset.createOptions);
  options.challenge = fromB64url(options.challenge);
  options.user.id = fromB64url(options.user.id);
  options.excludeCredentials = descriptors(options.excludeCredentials);
  const credential = await navigator.credentials.create({ publicKey: options });
  const r = credential.response;
  form.elements.webauthn.value = JSON.stringify({
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON),
      attestationObject: toB64url(r.attestationObject),
      transports: r.getTransports ? r.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  });
  form.submit();
}

async function useKey(form) {
  const body = new URLSearchParams({ csrftoken: form.elements.csrftoken.value });
  const answer = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin" });
  if (!answer.ok) throw new Error("no options");
  const options = await answer.json();
  options.challenge = fromB64url(options.challenge);
  options.allowCredentials = descriptors(options.allowCredentials);
  const credential = await navigator.credentials.get({ publicKey: options });
  const r = credential.response;
  form.elements.webauthn.value = JSON.stringify({
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON),
      authenticatorData: toB64url(r.authenticatorData),
      signature: toB64url(r.signature),
      userHandle: r.userHandle ? toB64url(r.userHandle) : null,
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  });
  form.submit();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("#enrol-key, button[data-create-key]")) {
    button.addEventListener("click", () => createKey(button.form).catch(() => {}));
  }
  for (const form of document.querySelectorAll("form[data-webauthn=get]")) {
    form.addEventListener("submit", (event) => {
      if (form.elements.webauthn.value) return;
      event.preventDefault();
      useKey(form).catch(() => {});
    });
  }
});
