// "Request release…" in the file browser's context menu and the side panel of release requests.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';

import { requestRelease } from './api';
import { RequestForm } from './forms';
import { ReleasePanel } from './panel';

const COMMAND = 'sandkasse:request-release';

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@sandkasse/request-release:plugin',
  description: 'Request the release of files from the sandbox and follow the requests.',
  autoStart: true,
  requires: [IFileBrowserFactory, ILabShell],
  activate: (app: JupyterFrontEnd, factory: IFileBrowserFactory, shell: ILabShell) => {
    const panel = new ReleasePanel();
    shell.add(panel, 'left', { rank: 650 });

    app.commands.addCommand(COMMAND, {
      label: 'Request release…',
      caption: 'Send the selected files to the output checkers',
      isEnabled: () => {
        const browser = factory.tracker.currentWidget;
        return !!browser && Array.from(browser.selectedItems()).some(i => i.type !== 'directory');
      },
      execute: async () => {
        const browser = factory.tracker.currentWidget;
        if (!browser) {
          return;
        }
        const outputs = Array.from(browser.selectedItems())
          .filter(i => i.type !== 'directory')
          .map(i => i.path);
        const result = await showDialog({
          title: 'Request release',
          body: new RequestForm(outputs),
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Request release' })]
        });
        if (!result.button.accept || !result.value) {
          return;
        }
        try {
          await requestRelease(result.value);
        } catch (err) {
          await showErrorMessage('Request release', (err as Error).message);
          return;
        }
        shell.activateById(panel.id);
        await panel.refresh();
      }
    });
    app.contextMenu.addItem({
      command: COMMAND,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 1
    });
  }
};

export default plugin;
