/** berth's own version, shown by `berth version` and in /version. */
export const BERTH_VERSION = '0.1.0';
