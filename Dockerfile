# Hugging Face Space (Docker SDK): Streamlit on port 8501.
FROM python:3.11-slim

# Spaces run the container as uid 1000. Keras' weights and the converted OpenVINO models
# are cached on the persistent volume /data when the Space has one (MODEL_ZOO_DATA; else
# in ~/.keras, which a restart wipes, and ~2.3 GB is downloaded again).
RUN useradd --create-home --uid 1000 user
ENV HOME=/home/user \
    MODEL_ZOO_DATA=/data \
    PYTHONPATH=/home/user/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --upgrade pip && pip install -r requirements.txt

COPY --chown=user . .
USER user

# Optional, for a Space without persistent storage (Spaces build with network): bake the five
# models, converted from the ImageNet weights, into the image, so that a restart is ready in
# seconds instead of downloading 2.3 GB and converting again. The runtime path stays for any
# other weights. docker build --build-arg BAKE_MODELS=1 [--build-arg BAKE_PRECISIONS=bf16] .
ARG BAKE_MODELS=0
ARG BAKE_PRECISIONS="bf16 f32"
ENV MODEL_ZOO_BAKED=/home/user/baked
RUN if [ "$BAKE_MODELS" = "1" ]; then \
        for precision in $BAKE_PRECISIONS; do \
            MODEL_ZOO_CACHE=$MODEL_ZOO_BAKED KERAS_HOME=/tmp/keras-bake \
                python -m model_zoo.engine vgg16 vgg19 resnet50 inception_v3 xception \
                --weights imagenet --precision "$precision" || exit 1; \
        done; \
        rm -rf /tmp/keras-bake "$MODEL_ZOO_BAKED/random"; \
    fi

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=5).read() != b'ok')"

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.fileWatcherType=none"]
