"""Live demos (OpenCV window, Gradio web app) and the drawing of results."""
