// The one global the page adds besides the DOM: Bootstrap's bundle (loaded by index.html before the
// app's modules), as much of it as the app uses. Read by tsc only (make jscheck); not shipped.

interface BootstrapComponent {
  show(): void;
  hide(): void;
}

interface BootstrapComponentClass {
  getInstance(element: Element): BootstrapComponent | null;
  getOrCreateInstance(element: Element, options?: Record<string, unknown>): BootstrapComponent;
}

interface Window {
  bootstrap: {
    Modal: BootstrapComponentClass;
    Offcanvas: BootstrapComponentClass;
    Toast: BootstrapComponentClass;
  };
}
