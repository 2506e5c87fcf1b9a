// callback.html: the provider sends the officer back here with ?code=&state=; the code is redeemed
// (PKCE) and the officer goes on to the page the sign-in started from.
import { finishSignIn } from "./work.js";

const status = document.getElementById("status");
finishSignIn()
  .then((next) => window.location.replace(next))
  .catch((err) => {
    status.textContent = err.message;
    status.classList.add("error");
  });
