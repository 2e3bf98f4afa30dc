import type { SecretBox } from '../profiles/secret-box';
import type { SafeStorageLike } from './electron-api';

/** Secrets sealed by the OS keyring. Linux `basic_text` is a fixed key, so it counts as no keyring. */
export function safeStorageBox(safeStorage: SafeStorageLike, platform: NodeJS.Platform = process.platform): SecretBox {
  return {
    status: () => {
      const backend = platform === 'linux' ? (safeStorage.getSelectedStorageBackend?.() ?? 'unknown') : platform === 'darwin' ? 'keychain' : 'dpapi';
      return { available: safeStorage.isEncryptionAvailable() && backend !== 'basic_text', backend };
    },
    encrypt: (plain) => safeStorage.encryptString(plain).toString('base64'),
    decrypt: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64')),
  };
}
