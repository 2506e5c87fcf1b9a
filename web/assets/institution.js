// One institution as families see it: filed facts, 普惠, credit grade, published inspection results.
import { ApiError, CONCLUSION_CLASS, GRADE_TEXT, SEVERITY_ZH, esc, fmt, getAll, getJson, param, setStatus } from "./common.js";
import { drawMap } from "./map.js";

const status = document.getElementById("status");
const LISTS_ZH = { serious_dishonesty: "严重失信主体名单", industry_ban: "从业禁止名单" };
const KIND_ZH = { random: "双随机抽查", targeted: "定向检查" };

function facts(i) {
  const share = i.total_slots ? i.puhui_slots / i.total_slots : 0;
  const rows = [
    ["所在区", i.district.name],
    ["街道（镇）", i.street.name],
    ["地址", i.address],
    ["举办类型", i.operating_model_zh],
    ["服务类型", i.service_types_zh.join("、")],
    ["备案托位", `${fmt.int(i.total_slots)} 个`],
    ["普惠托位", i.puhui_slots > 0 ? `${fmt.int(i.puhui_slots)} 个（占 ${fmt.pct(share, 0)}）` : "无"],
    ["收费标准", fmt.yuan(i.monthly_fee_yuan)],
    ["提供膳食", i.meals ? "是" : "否"],
    ["户外活动场地", i.outdoor_area_m2 == null ? "未填报" : `${Number(i.outdoor_area_m2).toLocaleString("zh-CN")} 平方米`],
  ];
  return rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
}

function severities(counts) {
  const parts = Object.entries(counts || {}).filter(([, n]) => n > 0).map(([s, n]) => `${SEVERITY_ZH[s] || s} ${n} 项`);
  return parts.length ? parts.join("、") : "无";
}

async function start() {
  const id = param("id");
  if (!id) {
    setStatus(status, "缺少机构编号。请从托育地图进入。", true);
    return;
  }
  let institution;
  try {
    institution = await getJson("filing", `/v1/public/institutions/${encodeURIComponent(id)}`);
  } catch (err) {
    setStatus(status, err instanceof ApiError && err.status === 404 ? "未找到该机构（可能尚未备案或已注销）。" : `加载失败：${err.message}`, true);
    return;
  }
  document.title = `${institution.name} — 广州托育地图`;
  document.getElementById("name").textContent = institution.name;
  document.getElementById("facts").innerHTML = facts(institution);
  document.getElementById("map-desc").textContent =
    `${institution.name} 位于${institution.district.name}${institution.street.name}（灰点为同区其他机构）`;
  document.getElementById("content").hidden = false;
  setStatus(status, "");

  const [neighbours, credit, results] = await Promise.allSettled([
    getAll("filing", "/v1/public/institutions", { district: institution.district.code }),
    getJson("credit", `/v1/public/credit/institutions/${encodeURIComponent(id)}`),
    getAll("inspection", "/v1/public/inspection-results", { district: institution.district.code }),
  ]);
  drawMap(document.getElementById("map"), neighbours.status === "fulfilled" ? neighbours.value : [], [institution], {
    focusId: institution.id,
  });

  const creditEl = document.getElementById("credit");
  if (credit.status === "fulfilled") {
    const c = credit.value;
    const lists = (c.lists || []).map((l) => `<span class="badge bad">已列入${esc(LISTS_ZH[l] || l)}</span>`).join("");
    creditEl.innerHTML = c.grade
      ? `<p><span class="badge grade-${esc(c.grade)}">信用等级 ${esc(GRADE_TEXT[c.grade] || c.grade)}</span>
         <span class="meta">评定日期 ${fmt.date(c.graded_at)} · 评价规则 ${esc(c.policy_version || "—")}</span></p>
         <div class="badges">${lists}</div>`
      : `<p>未评级（尚无信用信息）</p><div class="badges">${lists}</div>`;
  } else {
    creditEl.innerHTML = institution.credit_grade
      ? `<p><span class="badge grade-${esc(institution.credit_grade)}">信用等级 ${esc(GRADE_TEXT[institution.credit_grade])}</span></p>`
      : "<p>未评级（尚无信用信息）</p>";
  }

  const body = document.getElementById("inspections");
  const own = results.status === "fulfilled" ? results.value.filter((r) => r.institution_id === institution.id) : [];
  document.getElementById("inspections-caption").textContent = `共 ${own.length} 次公开的检查结果`;
  body.innerHTML = own.length
    ? own
        .map(
          (r) => `<tr class="inspection-result"><td>${fmt.date(r.inspected_on)}</td><td>${esc(KIND_ZH[r.kind] || r.kind)}</td>
          <td><span class="badge ${CONCLUSION_CLASS[r.conclusion] || ""}">${esc(r.conclusion_zh)}</span></td>
          <td>${esc(severities(r.violations_by_severity))}</td><td>${fmt.date(r.published_at)}</td></tr>`,
        )
        .join("")
    : '<tr><td colspan="5">尚无公开的检查结果</td></tr>';
  document.body.dataset.ready = "true";
}

start();
