/** The host's platform in OCI/Go terms (GOARCH names), for image configs and manifest selection. */
export function hostArchitecture(): string {
  switch (process.arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    case 'arm64': return 'arm64';
    case 'arm': return 'arm';
    default: return process.arch;
  }
}
