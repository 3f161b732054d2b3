/**
 * What every dialog that sends one request needs: `busy` while it runs (buttons disabled, the
 * dialog not dismissable) and the server's error text when it fails. On success `busy` stays set:
 * the dialog is about to close.
 */
import { useState } from 'preact/hooks';
import { errorMessage } from './api';

export interface Action {
  busy: boolean;
  error: string | null;
  setError: (error: string | null) => void;
  /** Runs `send`; true when it succeeded, false when its failure is now in `error`. */
  run: (send: () => Promise<void>) => Promise<boolean>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (send: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await send();
      return true;
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
      return false;
    }
  };
  return { busy, error, setError, run };
}
