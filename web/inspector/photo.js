// Photos from the camera, made small on the phone before they travel: the longer side at most
// MAX_SIDE pixels, JPEG; named by the SHA-256 of the bytes the service will store.
const MAX_SIDE = 1600;
const THUMB_SIDE = 160;

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("无法读取该照片"));
      img.src = reader.result; // a data: URL (the pages' CSP allows data: images, not blob:)
    };
    reader.onerror = () => reject(new Error("无法读取该照片"));
    reader.readAsDataURL(file);
  });
}

function draw(img, side) {
  const scale = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
  canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
  return canvas;
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The photo resized: {sha256, bytes (ArrayBuffer), mediaType, thumb (data: URL), size}. */
export async function preparePhoto(file) {
  const img = await loadImage(file);
  const full = draw(img, MAX_SIDE);
  const blob = await new Promise((resolve) => full.toBlob(resolve, "image/jpeg", 0.8));
  const bytes = await blob.arrayBuffer();
  const thumb = draw(img, THUMB_SIDE).toDataURL("image/jpeg", 0.7);
  return { sha256: await sha256Hex(bytes), bytes, mediaType: "image/jpeg", thumb, size: bytes.byteLength };
}
