// Distances on the phone: what the inspector sees before checking in (the service measures again).
const EARTH_RADIUS_M = 6371008.8;
export const CHECKIN_RADIUS_M = 500; // INSPECTION_CHECKIN_RADIUS_M's default (docs/inspection.md)

export function distanceM(lat1, lng1, lat2, lng2) {
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(lat2 - lat1);
  const dLng = rad(lng2 - lng1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(a));
}

export function shownDistance(m) {
  return m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`;
}

export function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("此设备不支持定位"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude, accuracy: p.coords.accuracy }),
      (err) => reject(new Error(err.code === 1 ? "未获得定位权限，请在浏览器设置中允许定位" : "暂时无法获取位置，请到室外或窗边重试")),
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 },
    );
  });
}
