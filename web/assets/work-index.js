// 今日待办 (the morning list): each service's GET /v1/work/summary for the signed-in officer, every
// queue's count with a link to its table, grouped by service; or the sign-in when nobody is signed in.
import { ApiError } from "./common.js";
import {
  DISTRICT_ZH, ROLE_ZH, SERVICE_ZH, WORK_SERVICES, call, el, header, queueHref, startSignIn, usePastedToken,
} from "./work.js";

const who = header();

function showSignIn() {
  document.getElementById("signin").hidden = false;
  const button = document.getElementById("signin-button");
  const status = document.getElementById("signin-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "正在前往统一身份认证平台……";
    try {
      const returnTo = sessionStorage.getItem("work.returnTo");
      sessionStorage.removeItem("work.returnTo");
      await startSignIn(returnTo);
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
      button.disabled = false;
    }
  });
  document.getElementById("paste-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      usePastedToken(document.getElementById("pasted-token").value);
      window.location.reload();
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    }
  });
}

async function showMorningList() {
  const c = who.claims;
  document.getElementById("morning").hidden = false;
  document.getElementById("officer-display").textContent = c.name || c.sub;
  const roles = Array.isArray(c.roles) ? c.roles : String(c.roles || "").split(" ").filter(Boolean);
  document.getElementById("officer-roles").textContent = roles.map((r) => ROLE_ZH[r] || r).join("、") || "无";
  const districts = Array.isArray(c.districts) ? c.districts : [];
  document.getElementById("officer-districts").textContent = districts.length
    ? districts.map((d) => DISTRICT_ZH[d] || d).join("、")
    : "全市";
  const status = document.getElementById("status");
  const box = document.getElementById("services");
  const answers = await Promise.all(
    WORK_SERVICES.map((service) =>
      call(service, "/v1/work/summary").then(
        (summary) => ({ service, summary }),
        (error) => ({ service, error }),
      ),
    ),
  );
  let total = 0;
  let shown = 0;
  for (const { service, summary, error } of answers) {
    if (error && error instanceof ApiError && error.status === 403) continue; // not this officer's work
    const section = el("section", { class: "card work-service", "aria-labelledby": `svc-${service}` });
    section.append(el("h2", { id: `svc-${service}`, text: SERVICE_ZH[service] }));
    if (error) {
      section.append(el("p", { class: "error", role: "alert", text: error.message }));
      box.append(section);
      continue;
    }
    if (!summary.queues.length) continue;
    shown += 1;
    const list = el("ul", { class: "queue-counts" });
    for (const q of summary.queues) {
      total += q.count;
      const link = el("a", { href: queueHref(service, q.queue), "data-queue": q.queue });
      link.append(el("span", { class: "queue-title", text: q.title_zh }), " ");
      link.append(el("span", { class: `count${q.count ? " nonzero" : ""}`, "data-count": String(q.count), text: `${q.count} 项` }));
      list.append(el("li", {}, link));
    }
    section.append(list);
    box.append(section);
  }
  const asOf = answers.find((a) => a.summary)?.summary.as_of;
  status.textContent = shown ? `截至 ${asOf}，共 ${total} 项待办` : "当前账号没有可查看的待办";
  status.dataset.ready = "true";
}

if (who) {
  showMorningList().catch((err) => {
    const status = document.getElementById("status");
    status.textContent = err.message;
    status.classList.add("error");
  });
} else {
  showSignIn();
}
