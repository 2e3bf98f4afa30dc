import { IPC_INVOKE_PREFIX, METHOD_NAMES } from '../../src-shared/channels';
import type { Result } from '../../src-shared/contract';
import type { Dispatch } from '../ipc/dispatch';
import type { IpcMainInvokeEventLike, IpcMainLike } from './electron-api';

const UNTRUSTED: Result<never> = { ok: false, error: { code: 'unauthorized', message: 'this window may not call Cache Admin' } };

/** One handler per contract channel; each checks the sender, then lets the dispatcher validate the payload. */
export function registerIpc(ipcMain: IpcMainLike, dispatch: Dispatch, isTrustedSender: (event: IpcMainInvokeEventLike) => boolean): void {
  for (const method of METHOD_NAMES) {
    ipcMain.handle(IPC_INVOKE_PREFIX + method, async (event, payload) => (isTrustedSender(event) ? dispatch(method, payload) : UNTRUSTED));
  }
}
