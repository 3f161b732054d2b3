/**
 * An in-page modal on the native `<dialog>`: the browser traps focus, Escape closes it, and
 * focus starts on the first control (or the one marked `autofocus`).
 */
import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef } from 'preact/hooks';

interface ModalProps {
  title: string;
  /** Escape, the close button or a programmatic close. */
  onClose: () => void;
  /** While true, Escape does nothing (a request is on its way). */
  busy?: boolean;
  /**
   * Escape and a click on the backdrop call this instead of `onClose` when set: a dialog whose
   * content would be lost (a key shown once) asks first. Without it the backdrop does nothing.
   */
  onDismiss?: () => void;
  wide?: boolean;
  testId?: string;
  children: ComponentChildren;
}

export function Modal({ title, onClose, onDismiss, busy = false, wide = false, testId, children }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  const busyRef = useRef(busy);
  busyRef.current = busy;
  const dismissRef = useRef(onDismiss);
  dismissRef.current = onDismiss;

  // A layout effect: its cleanup runs in the commit, while the dialog is still in the document,
  // so focus can go back to the opener (passive cleanups run after the node is gone).
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    // Where focus goes back to on close (the browser's own restoration is lost on unmount).
    const opener = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    const onCancel = (event: Event) => {
      event.preventDefault();
      if (busyRef.current) return;
      (dismissRef.current ?? closeRef.current)();
    };
    // A dialog the browser closes on its own (a repeated Escape) still ends the modal, unless it
    // asks before dismissing: then it is shown again, asking.
    const onNativeClose = () => {
      if (dismissRef.current) {
        if (!dialog.open) dialog.showModal();
        dismissRef.current();
      } else {
        closeRef.current();
      }
    };
    // A click whose target is the dialog itself landed on the backdrop (the content fills the box).
    const onClick = (event: MouseEvent) => {
      if (event.target === dialog && dismissRef.current && !busyRef.current) dismissRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    dialog.addEventListener('close', onNativeClose);
    dialog.addEventListener('click', onClick);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      dialog.removeEventListener('close', onNativeClose);
      dialog.removeEventListener('click', onClick);
      if (dialog.open) dialog.close();
      const target = opener?.isConnected ? opener : document.querySelector<HTMLElement>('main h1');
      target?.focus({ preventScroll: true });
    };
  }, []);

  return (
    <dialog ref={ref} class={wide ? 'modal modal-wide' : 'modal'} aria-labelledby={titleId} data-testid={testId}>
      <div class="modal-header">
        <h2 id={titleId}>{title}</h2>
      </div>
      <div class="modal-body">{children}</div>
    </dialog>
  );
}
