// Deployment override of the service addresses (see common.js). Empty for ./dev run, where the
// services listen on the ports after this page's. Example for one origin behind a reverse proxy:
// window.CHILDCARE_API = { filing: "", inspection: "", credit: "", reporting: "" };
//
// The map's base layer (托育地图). None by default: the map then draws the districts' boundaries
// alone and requests nothing from outside. Production sets the city's licensed tile service, e.g.
// 天地图 (Web Mercator WMTS; vector map + its Chinese labels), with the deployment's key, and adds
// the tile host to the Content-Security-Policy's img-src (setting csp_img_src; docs/map.md):
// window.CHILDCARE_MAP = {
//   tileLayers: [
//     { url: "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY",
//       subdomains: "01234567", maxZoom: 18, attribution: "© 天地图（国家地理信息公共服务平台）" },
//     { url: "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY",
//       subdomains: "01234567", maxZoom: 18 },
//   ],
// };
