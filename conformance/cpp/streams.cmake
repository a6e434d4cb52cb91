# Stream order and device memory on sim (issue 11): sim models CUDA's protocol streams and
# out-of-memory, imports are ordered on every transfer path (CAI-3, DLP-2).
astensor_test(test_stream_order "conformance;sim" test_stream_order.cpp)
