/** Released version (kept equal to the root package.json by a test). */
export const RENDER_SIGNAL_VERSION = '0.1.0';
